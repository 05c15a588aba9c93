-- The lease of one (facility, group) of the outbox: only its holder renews or releases it.
-- KEYS[1]  jb:{F}:outbox:lease:{group}
-- ARGV[1]  the consumer ("{host}:{pid}")
-- ARGV[2]  "take" (renew when held, else SET NX), "renew" (PEXPIRE to ARGV[3] ms) or
--          "release" (DEL)
-- ARGV[3]  the lease's length in milliseconds
-- Returns 1 when this consumer held the lease (renewed or released), 2 when "take" acquired
-- it, else 0.
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] then
  if ARGV[2] == 'take' and not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
    return 2
  end
  return 0
end
if ARGV[2] == 'release' then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
