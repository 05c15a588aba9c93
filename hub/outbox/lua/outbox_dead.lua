-- Move one poison entry of the outbox to the dead letters, in one call: copy it to the
-- dead-letter stream with its group, delivery count and last error, and acknowledge it.
-- KEYS[1]  jb:{F}:outbox        the outbox stream
-- KEYS[2]  jb:{F}:outbox:dead   the dead letters (stream)
-- ARGV[1]  the consumer group
-- ARGV[2]  the entry's id
-- ARGV[3]  its delivery count
-- ARGV[4]  the last error ("" when none was recorded)
-- ARGV[5]  MAXLEN (approximate) of the dead letters
-- Returns 1 (moved), 0 (no longer pending in that group: someone acknowledged it), or -1
-- (pending but trimmed from the outbox: acknowledged, nothing to keep).
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 then
  return 0
end
local found = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if #found == 0 then
  return -1
end
local fields = {'group', ARGV[1], 'entry', ARGV[2], 'deliveries', ARGV[3], 'error', ARGV[4]}
for _, value in ipairs(found[1][2]) do
  fields[#fields + 1] = value
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', unpack(fields))
return 1
