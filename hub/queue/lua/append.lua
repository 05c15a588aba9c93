-- Append a batch of events to one queue, atomically: version check, idempotency keys,
-- XADD of the events, new view (and, every so often, a snapshot), the batch's outbox entry,
-- PUBLISH of the view and of the outbox wake-up.
--
-- KEYS[1]  queue hash (fields v, epoch, view, snap, snap_v, snap_id)
-- KEYS[2]  event stream
-- KEYS[3]  the facility's outbox stream (same hash tag; written only with an entry)
-- KEYS[4..] idempotency keys, one per idempotent command in the batch
-- ARGV[1]  expected version (0 = the queue must not exist yet)
-- ARGV[2]  epoch the caller's state belongs to
-- ARGV[3]  snapshot of the new state (msgpack), or "" to keep the last one: readers then
--          replay the stream entries after snap_id (see load.lua)
-- ARGV[4]  new public view (JSON)       ARGV[5] pub/sub channel
-- ARGV[6]  stream MAXLEN (approximate)  ARGV[7] idempotency TTL (seconds)
-- ARGV[8]  number of events N (>= 1)
-- ARGV[9]  the epoch the queue must have now: ARGV[2] itself, or the old epoch when the
--          caller renews it (the queue's history went back: Redis lost writes)
-- ARGV[10] the outbox entry's `e` (msgpack, hub/queue/outbox.py), or "" = no entry (a batch
--          of only ticket_annotated events)
-- ARGV[11] outbox MAXLEN (approximate)  ARGV[12] info (entry field)
-- ARGV[13] kinds (entry field: the batch's event kinds, comma-separated)
-- ARGV[14] facility number, published on the wake channel after the entry
-- ARGV[15] the wake-up window in ms (hub/queue/outbox.py WAKE_WINDOW_MS)
-- ARGV[16 .. 15+2N]  kind, payload for each event
-- ARGV[16+2N ..]     stored answer for each idempotency key, in KEYS order
--
-- An entry (fields info, v, epoch, kinds, e) is XADDed to KEYS[3] exactly when the events
-- are, then `PUBLISH jb:outbox:wake {facility}` unless this queue published one less than
-- ARGV[15] ms before (stream time, the queue hash's `wk`): a transactional outbox whose
-- runners serve again one window after each wake-up they hear (hub/outbox/runner.py).
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
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {'dup', i - 3}
  end
end
local n = tonumber(ARGV[8])
local new_v = current + 1
local last_id
for i = 0, n - 1 do
  last_id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
    'v', new_v, 't', ARGV[16 + 2 * i], 'e', ARGV[17 + 2 * i])
end
redis.call('HSET', KEYS[1], 'v', new_v, 'epoch', ARGV[2], 'view', ARGV[4])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'snap', ARGV[3], 'snap_v', new_v, 'snap_id', last_id)
end
if ARGV[10] ~= '' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[11], '*',
    'info', ARGV[12], 'v', new_v, 'epoch', ARGV[2], 'kinds', ARGV[13], 'e', ARGV[10])
end
local ttl = tonumber(ARGV[7])
for i = 4, #KEYS do
  redis.call('SET', KEYS[i], ARGV[15 + 2 * n + (i - 3)], 'EX', ttl)
end
redis.call('PUBLISH', ARGV[5], ARGV[4])
if ARGV[10] ~= '' then
  local now_ms = tonumber(string.match(last_id, '^%d+'))
  if now_ms - tonumber(redis.call('HGET', KEYS[1], 'wk') or '0') >= tonumber(ARGV[15]) then
    redis.call('HSET', KEYS[1], 'wk', now_ms)
    redis.call('PUBLISH', 'jb:outbox:wake', ARGV[14])
  end
end
return {'ok', new_v}
