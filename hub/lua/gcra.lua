-- GCRA rate limits (generic cell rate algorithm, as in redis-cell / throttled), several at
-- once: the request is allowed only if every limit allows it, and only then counted.
-- KEYS[i]        one subject's theoretical arrival time (ms, Redis clock)
-- ARGV[2i-1]     that limit's emission interval in ms (window / count)
-- ARGV[2i]       its burst tolerance in ms (the window: up to `count` at once when idle)
-- Returns {1, 0, 0} when allowed, {0, retry_after_ms, i} when limit i refuses.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local new_tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local over = new_tat - now - tolerance
  if over > 0 then
    return {0, math.ceil(over), i}
  end
  new_tats[i] = new_tat
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], new_tats[i], 'PX', math.ceil(new_tats[i] - now) + 1)
end
return {1, 0, 0}
