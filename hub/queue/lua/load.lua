-- Read a queue's state in one round trip: the last snapshot and the events after it.
--
-- KEYS[1]  queue hash          KEYS[2]  event stream
-- Returns false when the queue does not exist, else
-- {snapshot (msgpack), snap_v, v, {entry, ...}} with each entry {id, {field, value, ...}}
-- for the stream entries after the snapshot (fields v, t, e).
local h = redis.call('HMGET', KEYS[1], 'snap', 'snap_id', 'snap_v', 'v')
if not h[1] then
  return false
end
local tail = {}
if h[2] and tonumber(h[4]) > tonumber(h[3]) then
  tail = redis.call('XRANGE', KEYS[2], '(' .. h[2], '+')
end
return {h[1], h[3], h[4], tail}
