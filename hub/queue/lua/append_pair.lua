-- Append events to two queues of one facility at once (a transfer between counters):
-- both version checks first, then both appends, or nothing. The keys share the facility's
-- hash tag, so this runs on one Redis Cluster shard. No snapshot is written (readers replay
-- the stream after the last one, see load.lua).
--
-- KEYS[1], KEYS[2]  first queue: hash, event stream
-- KEYS[3], KEYS[4]  second queue: hash, event stream
-- KEYS[5]           optional: the Idempotency-Key of the request (stored answer)
-- ARGV[1]  stream MAXLEN (approximate)   ARGV[2] idempotency TTL (seconds)
-- ARGV[3]  the answer to store under KEYS[5] ("" without KEYS[5])
-- then one block per queue, first queue first:
--   expected version, epoch, new public view (JSON), pub/sub channel, N (>= 0 events),
--   then kind, payload for each event. A queue with N = 0 is checked but not written.
--
-- Returns {"ok", 0} | {"conflict", 1 or 2 (which queue)} | {"dup", 0}.
local blocks = {}
local at = 4
for q = 1, 2 do
  local n = tonumber(ARGV[at + 4])
  blocks[q] = {hash = KEYS[2 * q - 1], log = KEYS[2 * q], expected = tonumber(ARGV[at]),
               epoch = ARGV[at + 1], view = ARGV[at + 2], channel = ARGV[at + 3],
               n = n, first = at + 5}
  at = at + 5 + 2 * n
end
for q = 1, 2 do
  local b = blocks[q]
  local current = tonumber(redis.call('HGET', b.hash, 'v') or '0')
  if current ~= b.expected or current == 0 or redis.call('HGET', b.hash, 'epoch') ~= b.epoch then
    return {'conflict', q}
  end
end
if KEYS[5] and redis.call('EXISTS', KEYS[5]) == 1 then
  return {'dup', 0}
end
for q = 1, 2 do
  local b = blocks[q]
  if b.n > 0 then
    local new_v = b.expected + 1
    for i = 0, b.n - 1 do
      redis.call('XADD', b.log, 'MAXLEN', '~', ARGV[1], '*',
        'v', new_v, 't', ARGV[b.first + 2 * i], 'e', ARGV[b.first + 2 * i + 1])
    end
    redis.call('HSET', b.hash, 'v', new_v, 'view', b.view)
  end
end
if KEYS[5] then
  redis.call('SET', KEYS[5], ARGV[3], 'EX', tonumber(ARGV[2]))
end
for q = 1, 2 do
  local b = blocks[q]
  if b.n > 0 then
    redis.call('PUBLISH', b.channel, b.view)
  end
end
return {'ok', 0}
