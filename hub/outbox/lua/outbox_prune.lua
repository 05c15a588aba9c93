-- Delete the consumers of one outbox group that have nothing pending and have been idle at
-- least ARGV[2] ms, atomically (a consumer cannot read between the check and the delete, so
-- no pending entry is ever dropped with its consumer). A process is one consumer,
-- `{host}:{pid}`: every restart leaves its old name behind.
--
-- KEYS[1]  the facility's outbox stream
-- ARGV[1]  group name        ARGV[2] least idle time (ms)
--
-- Returns the number of consumers deleted (0 when the group does not exist).
local ok, rows = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then
  return 0
end
local least = tonumber(ARGV[2])
local deleted = 0
for _, row in ipairs(rows) do
  local fields = {}
  for i = 1, #row, 2 do
    fields[row[i]] = row[i + 1]
  end
  if tonumber(fields['pending']) == 0 and tonumber(fields['idle']) >= least then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    deleted = deleted + 1
  end
end
return deleted
