-- POST /trigger-notification to the naive app, cycling through the phones of linked customers.
-- wrk arguments: API_KEY PHONES_FILE (one E.164 phone a line) RUN_NONCE
local counter = 0

function init(args)
  api_key, nonce = args[1], args[3]
  phones = {}
  for line in io.lines(args[2]) do phones[#phones + 1] = line end
end

function request()
  counter = counter + 1
  local phone = phones[((thread_id - 1) * 7919 + counter) % #phones + 1]
  local body = string.format('{"phone": "%s", "order_id": "ORD-%s-%d-%d", "items": ["Laptop", "Mouse"]}',
    phone, nonce, thread_id, counter)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Internal-API-Key"] = api_key,
  }, body)
end
