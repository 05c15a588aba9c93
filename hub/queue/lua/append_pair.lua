-- Append events to two queues of one facility at once (a transfer between counters):
-- both version checks first, then both appends, or nothing. The keys share the facility's
-- hash tag, so this runs on one Redis Cluster shard. No snapshot is written (readers replay
-- the stream after the last one, see load.lua).
--
-- KEYS[1], KEYS[2]  first queue: hash, event stream
-- KEYS[3], KEYS[4]  second queue: hash, event stream
-- KEYS[5]           the facility's outbox stream
-- KEYS[6]           optional: the Idempotency-Key of the request (stored answer)
-- ARGV[1]  stream MAXLEN (approximate)   ARGV[2] idempotency TTL (seconds)
-- ARGV[3]  the answer to store under KEYS[6] ("" without KEYS[6])
-- ARGV[4]  outbox MAXLEN (approximate)   ARGV[5] facility number (published on the wake
--          channel when an outbox entry was written)
-- then one block per queue, first queue first:
--   expected version, epoch, new public view (JSON), pub/sub channel, info, kinds (comma-
--   separated), outbox entry `e` ("" = none), N (>= 0 events), then kind, payload for each
--   event. A queue with N = 0 is checked but not written.
--
-- Outbox: ONE ENTRY PER QUEUE WRITTEN (fields info, v, epoch, kinds, e, as append.lua's), the
-- first queue's first: an entry describes one queue at one version, so a consumer sees a
-- transfer as the source's ticket_transferred_out entry, then the target's
-- ticket_transferred_in entry, in that order; then one PUBLISH jb:outbox:wake {facility}.
--
-- Returns {"ok", 0} | {"conflict", 1 or 2 (which queue)} | {"dup", 0}.
local blocks = {}
local at = 6
for q = 1, 2 do
  local n = tonumber(ARGV[at + 7])
  blocks[q] = {hash = KEYS[2 * q - 1], log = KEYS[2 * q], expected = tonumber(ARGV[at]),
               epoch = ARGV[at + 1], view = ARGV[at + 2], channel = ARGV[at + 3],
               info = ARGV[at + 4], kinds = ARGV[at + 5], entry = ARGV[at + 6],
               n = n, first = at + 8}
  at = at + 8 + 2 * n
end
for q = 1, 2 do
  local b = blocks[q]
  local current = tonumber(redis.call('HGET', b.hash, 'v') or '0')
  if current ~= b.expected or current == 0 or redis.call('HGET', b.hash, 'epoch') ~= b.epoch then
    return {'conflict', q}
  end
end
if KEYS[6] and redis.call('EXISTS', KEYS[6]) == 1 then
  return {'dup', 0}
end
local woken = false
for q = 1, 2 do
  local b = blocks[q]
  if b.n > 0 then
    local new_v = b.expected + 1
    for i = 0, b.n - 1 do
      redis.call('XADD', b.log, 'MAXLEN', '~', ARGV[1], '*',
        'v', new_v, 't', ARGV[b.first + 2 * i], 'e', ARGV[b.first + 2 * i + 1])
    end
    redis.call('HSET', b.hash, 'v', new_v, 'view', b.view)
    if b.entry ~= '' then
      redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*',
        'info', b.info, 'v', new_v, 'epoch', b.epoch, 'kinds', b.kinds, 'e', b.entry)
      woken = true
    end
  end
end
if KEYS[6] then
  redis.call('SET', KEYS[6], ARGV[3], 'EX', tonumber(ARGV[2]))
end
for q = 1, 2 do
  local b = blocks[q]
  if b.n > 0 then
    redis.call('PUBLISH', b.channel, b.view)
  end
end
if woken then
  redis.call('PUBLISH', 'jb:outbox:wake', ARGV[5])
end
return {'ok', 0}
