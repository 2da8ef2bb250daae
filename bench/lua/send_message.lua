-- POST sendMessage straight to the sandbox, spread over COUNT chats from FIRST_CHAT.
-- wrk arguments: FIRST_CHAT COUNT
local counter = 0

function init(args)
  first, count = tonumber(args[1]), tonumber(args[2])
end

function request()
  counter = counter + 1
  local body = string.format('{"chat_id": %d, "text": "Order ORD-%d-%d is ready"}',
    first + (thread_id * 7919 + counter) % count, thread_id, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
