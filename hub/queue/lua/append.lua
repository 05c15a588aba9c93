-- Append a batch of events to one queue, atomically: version check, idempotency keys,
-- XADD of the events, new view (and, every so often, a snapshot), PUBLISH of the view.
--
-- KEYS[1]  queue hash (fields v, epoch, view, snap, snap_v, snap_id)
-- KEYS[2]  event stream
-- KEYS[3..] idempotency keys, one per idempotent command in the batch
-- ARGV[1]  expected version (0 = the queue must not exist yet)
-- ARGV[2]  epoch the caller's state belongs to
-- ARGV[3]  snapshot of the new state (msgpack), or "" to keep the last one: readers then
--          replay the stream entries after snap_id (see load.lua)
-- ARGV[4]  new public view (JSON)       ARGV[5] pub/sub channel
-- ARGV[6]  stream MAXLEN (approximate)  ARGV[7] idempotency TTL (seconds)
-- ARGV[8]  number of events N (>= 1)
-- ARGV[9]  the epoch the queue must have now: ARGV[2] itself, or the old epoch when the
--          caller renews it (the queue's history went back: Redis lost writes)
-- ARGV[10 .. 9+2N]  kind, payload for each event
-- ARGV[10+2N ..]    stored answer for each idempotency key, in KEYS order
--
-- Returns {"ok", new_v} | {"conflict", current_v} | {"dup", index of the idempotency key}.
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local expected = tonumber(ARGV[1])
if current ~= expected then
  return {'conflict', current}
end
if current > 0 and redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[9] then
  return {'conflict', current}
end
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {'dup', i - 2}
  end
end
local n = tonumber(ARGV[8])
local new_v = current + 1
local last_id
for i = 0, n - 1 do
  last_id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
    'v', new_v, 't', ARGV[10 + 2 * i], 'e', ARGV[11 + 2 * i])
end
redis.call('HSET', KEYS[1], 'v', new_v, 'epoch', ARGV[2], 'view', ARGV[4])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'snap', ARGV[3], 'snap_v', new_v, 'snap_id', last_id)
end
local ttl = tonumber(ARGV[7])
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[9 + 2 * n + (i - 2)], 'EX', ttl)
end
redis.call('PUBLISH', ARGV[5], ARGV[4])
return {'ok', new_v}
