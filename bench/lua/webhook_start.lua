-- POST /webhook/telegram: "/start ORD-n" from a new chat, with a new update_id, every request.
-- wrk arguments: SECRET_TOKEN BASE (update ids and chats of one run start past BASE)
local counter = 0

function init(args)
  secret, base = args[1], tonumber(args[2])
end

function request()
  counter = counter + 1
  local n = base + thread_id * 1000000 + counter
  local chat = 700000000 + n
  local body = string.format(
    '{"update_id": %d, "message": {"message_id": 1, "from": {"id": %d, "is_bot": false, ' ..
    '"first_name": "Bench", "language_code": "uk"}, "chat": {"id": %d, "first_name": "Bench", ' ..
    '"type": "private"}, "date": %d, "text": "/start ORD-%d", ' ..
    '"entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}', n, chat, chat, os.time(), n)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Telegram-Bot-Api-Secret-Token"] = secret,
  }, body)
end
