-- Append a batch of events to one booking book (one queue, one date), atomically: version
-- check, idempotency keys, XADD of the events, the new state; both keys expire at ARGV[3].
-- No PUBLISH: the queue's own view carries today's counts (a SetBands command).
--
-- KEYS[1]  book hash (fields v, state)     KEYS[2]  event stream
-- KEYS[3..] idempotency keys, one per idempotent command in the batch
-- ARGV[1]  expected version (0 = the book must not exist yet)
-- ARGV[2]  the new state (msgpack)         ARGV[3]  expiry (Unix seconds)
-- ARGV[4]  idempotency TTL (seconds)       ARGV[5]  number of events N (>= 1)
-- ARGV[6 .. 5+N]   each event (msgpack)
-- ARGV[6+N ..]     stored answer for each idempotency key, in KEYS order
--
-- Returns {"ok", new_v} | {"conflict", current_v} | {"dup", index of the idempotency key}.
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then
  return {'conflict', current}
end
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {'dup', i - 2}
  end
end
local n = tonumber(ARGV[5])
local new_v = current + 1
for i = 0, n - 1 do
  redis.call('XADD', KEYS[2], '*', 'v', new_v, 'e', ARGV[6 + i])
end
redis.call('HSET', KEYS[1], 'v', new_v, 'state', ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
redis.call('EXPIREAT', KEYS[2], ARGV[3])
local ttl = tonumber(ARGV[4])
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[5 + n + (i - 2)], 'EX', ttl)
end
return {'ok', new_v}
