-- The lease of one (facility, group) of the outbox: only its holder renews or releases it.
-- KEYS[1]  jb:{F}:outbox:lease:{group}
-- ARGV[1]  the consumer ("{host}:{pid}")
-- ARGV[2]  "renew" (PEXPIRE to ARGV[3] ms) or "release" (DEL)
-- ARGV[3]  the lease's length in milliseconds
-- Returns 1 when this consumer held the lease (renewed or released), else 0.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == 'release' then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
