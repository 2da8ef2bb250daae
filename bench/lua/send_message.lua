-- POST sendMessage straight to the sandbox, spread over COUNT chats from FIRST_CHAT.
-- wrk arguments: FIRST_CHAT COUNT [paid] (paid: with allow_paid_broadcast)
local counter = 0

function init(args)
  first, count = tonumber(args[1]), tonumber(args[2])
  extra = args[3] == "paid" and ', "allow_paid_broadcast": true' or ""
end

function request()
  counter = counter + 1
  local body = string.format('{"chat_id": %d, "text": "Order ORD-%d-%d is ready"%s}',
    first + (thread_id * 7919 + counter) % count, thread_id, counter, extra)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
