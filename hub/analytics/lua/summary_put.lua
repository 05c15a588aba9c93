-- Store a finished day's summary and move the queue's summary cursor past it, once.
-- KEYS[1] the cursor hash (jb:{F}:C:sumcur), KEYS[2] the summaries hash (jb:{F}:C:sum)
-- ARGV[1] the cursor id the caller started from ('' = no cursor yet)
-- ARGV[2..5] the new cursor: id, v, day, state; ARGV[6] the date, ARGV[7] the summary
-- (ARGV[6] '': no summary, only the cursor: a queue's first)
-- Returns 1, or 0 when another process moved the cursor first (nothing written).
local current = redis.call('HGET', KEYS[1], 'id') or ''
if current ~= ARGV[1] then
  return 0
end
if ARGV[6] ~= '' then
  redis.call('HSETNX', KEYS[2], ARGV[6], ARGV[7])
end
redis.call('HSET', KEYS[1], 'id', ARGV[2], 'v', ARGV[3], 'day', ARGV[4], 'state', ARGV[5])
return 1
