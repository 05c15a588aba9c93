-- Record one phone call as `queued`, at most once per (ticket, trigger), within the limits:
-- all in one call, before the provider is asked (hub/phone/store.py).
-- KEYS: 1 dedupe (jb:{F}:call:dedupe:{ticket}:{trigger}), 2 active (zset), 3 day count,
--       4 month count, 5 call hash, 6 calls stream, 7 per-ticket counts (hash)
-- ARGV: 1 call id, 2 ticket, 3 now ms, 4 dedupe ("1"/"0"), 5 daily cap, 6 monthly cap,
--       7 max active, 8 max per ticket, 9 stale active ms, 10 history maxlen,
--       11.. field/value pairs of the call record
-- Returns: "ok" | "duplicate" | "busy" | "daily_cap" | "monthly_cap" | "ticket_cap"
local id, ticket, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
if ARGV[4] == "1" and redis.call("EXISTS", KEYS[1]) == 1 then
  return "duplicate"
end
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", now - tonumber(ARGV[9]))
if redis.call("ZCARD", KEYS[2]) >= tonumber(ARGV[7]) then
  return "busy"
end
if tonumber(redis.call("GET", KEYS[3]) or "0") >= tonumber(ARGV[5]) then
  return "daily_cap"
end
if tonumber(redis.call("GET", KEYS[4]) or "0") >= tonumber(ARGV[6]) then
  return "monthly_cap"
end
if tonumber(redis.call("HGET", KEYS[7], ticket) or "0") >= tonumber(ARGV[8]) then
  return "ticket_cap"
end
if ARGV[4] == "1" then
  redis.call("SET", KEYS[1], id, "NX", "EX", 86400)
end
redis.call("INCR", KEYS[3])
redis.call("EXPIRE", KEYS[3], 2 * 86400)
redis.call("INCR", KEYS[4])
redis.call("EXPIRE", KEYS[4], 40 * 86400)
redis.call("HINCRBY", KEYS[7], ticket, 1)
redis.call("EXPIRE", KEYS[7], 2 * 86400)
redis.call("ZADD", KEYS[2], now, id)
local fields = {}
for i = 11, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call("HSET", KEYS[5], "status", "queued", "at", ARGV[3], unpack(fields))
redis.call("EXPIRE", KEYS[5], 90 * 86400)
redis.call("XADD", KEYS[6], "MAXLEN", "~", ARGV[10], "*", "call", id, "status", "queued")
return "ok"
