-- POST /v1/notifications: every request a new phone, order id and Idempotency-Key.
-- wrk arguments: API_KEY RUN_NONCE
local counter = 0

function init(args)
  api_key, nonce = args[1], args[2]
end

function request()
  counter = counter + 1
  local n = thread_id * 1000000 + counter
  local body = string.format(
    '{"phone": "+38067%07d", "order_id": "ORD-%s-%d", "items": ["Laptop", "Mouse"]}', n % 10000000, nonce, n)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Internal-API-Key"] = api_key,
    ["Idempotency-Key"] = string.format("bench-%s-%d", nonce, n),
  }, body)
end
