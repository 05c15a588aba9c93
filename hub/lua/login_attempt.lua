-- One atomic reservation of a login attempt (hub/accounts.py LoginGuard.reserve).
-- KEYS[1] the name's failure counter; ARGV[1] max failures, ARGV[2] lock time (ms).
-- Under the limit: count the attempt, keep the count ARGV[2] ms more -> {1, attempt}.
-- At the limit: count nothing -> {0, ms until the lock ends}.
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  return {0, redis.call('PTTL', KEYS[1])}
end
count = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, count}
