-- One GCRA rate-limit step (generic cell rate algorithm, as in redis-cell / throttled).
-- KEYS[1]  the subject's theoretical arrival time (ms, Redis clock)
-- ARGV[1]  emission interval in ms (window / limit)
-- ARGV[2]  burst tolerance in ms (window: up to `limit` at once when idle)
-- Returns {1, 0} when allowed, {0, retry_after_ms} when refused.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local over = new_tat - now - tolerance
if over > 0 then
  return {0, math.ceil(over)}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1)
return {1, 0}
