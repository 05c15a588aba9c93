-- A reserved login attempt turned out wrong (hub/accounts.py LoginGuard.failed): its pair's
-- wait, set when the attempt was reserved, now runs from this moment (after the password
-- check), so a slow check never shortens the wait the caller sees.
-- KEYS[1] the (user name, client network) pair's hash: f = failures, u = wait until (ms)
-- ARGV[1] free failures of a pair before its attempts wait; ARGV[2] first wait (ms);
-- ARGV[3] longest wait (ms); ARGV[4] window: the pair is forgotten this long after (ms)
-- Returns the ms the pair now waits (0 while below its free failures or forgotten).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local failures = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local free = tonumber(ARGV[1])
if failures < free then
  return 0
end
local wait = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ (failures - free))
redis.call('HSET', KEYS[1], 'u', now + wait)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return wait
