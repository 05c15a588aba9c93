-- One atomic reservation of a login attempt (hub/accounts.py LoginGuard.reserve): throttle,
-- never lock. Reserved before the password is checked, so a parallel burst gets a bounded
-- number of checks; a wrong one restarts the pair's wait after the check (login_failed.lua),
-- a right one deletes the pair's state (LoginGuard.succeeded).
-- KEYS[1] hash of one (user name, client network) pair: f = failures, u = epoch ms before
--         which its next attempt is refused
-- KEYS[2] the name's GCRA state (ms) for attempts of throttled pairs, across every address
-- KEYS[3] (optional) set of the name's pair keys (LoginGuard.unlock and .state read it)
-- ARGV[1] free failures of a pair before its attempts wait; ARGV[2] first wait (ms);
-- ARGV[3] longest wait (ms); ARGV[4] window: a pair is forgotten this long after its last
-- attempt (ms); ARGV[5] the name's emission interval (ms); ARGV[6] its burst tolerance (ms)
-- Returns {1, failures so far incl. this one, 0} when reserved;
--         {0, ms to wait, 1} when the pair must wait, {0, ms to wait, 2} when the name must.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local free = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'f', 'u')
local failures = tonumber(state[1] or '0')
local wait_until = tonumber(state[2] or '0')
if now < wait_until then
  return {0, wait_until - now, 1}
end
if failures >= free then
  -- a throttled pair also draws on the name's slowdown, shared by every address
  local interval = tonumber(ARGV[5])
  local tat = tonumber(redis.call('GET', KEYS[2]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local over = new_tat - now - tonumber(ARGV[6])
  if over > 0 then
    return {0, math.ceil(over), 2}
  end
  redis.call('SET', KEYS[2], new_tat, 'PX', math.ceil(new_tat - now) + 1)
end
failures = failures + 1
local wait = 0
if failures >= free then
  wait = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ (failures - free))
end
redis.call('HSET', KEYS[1], 'f', failures, 'u', now + wait)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if KEYS[3] then
  redis.call('SADD', KEYS[3], KEYS[1])
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[4]) + 60000)
end
return {1, failures, 0}
