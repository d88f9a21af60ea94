/**
 * The trace's two Lua scripts. Every key they touch is passed in KEYS and shares the fleet's
 * hash tag, so they run unchanged on Redis Cluster.
 */
import type { LuaScript } from "@mailconnect/redis-client"

/**
 * One line into the trace, in one round trip: appended to the message's record (the first line
 * and the newest `maxLines - 1` kept), the message entered or moved up in every index set the
 * line touches (ZADD GT: a late line from another relay never moves it back), and the record set to
 * expire `retention` after its newest line (PEXPIREAT NX, else GT: an expiry is only ever pushed
 * later). An index set is maintained — entries older than the retention cut off, its expiry pushed
 * to the index expire-at — only where its flag is '1': the writer does that once a minute per set,
 * not for every line (the all-messages set is touched by every line of every message; trimming and
 * extending it each time was most of the trace's Redis work). The index expire-at carries that
 * minute as margin, so a set still outlives every entry in it. A set without an expiry (new, or
 * re-created after the cut-off emptied it) is maintained at once, whatever its flag.
 *
 * KEYS: record list, then the index sets (the all-messages set first).
 * ARGV: queue id, line time (ms), cut-off (ms), record expire-at (ms), line JSON, max lines,
 * index expire-at (ms), then one '1'/'0' maintain flag per index set.
 */
export const RECORD: Omit<LuaScript, "numberOfKeys"> = {
  name: "trace-record",
  lua: `
local function extend(key, at)
  if redis.call('PEXPIREAT', key, at, 'NX') == 0 then redis.call('PEXPIREAT', key, at, 'GT') end
end
local length = redis.call('RPUSH', KEYS[1], ARGV[5])
if length > tonumber(ARGV[6]) then
  redis.call('LSET', KEYS[1], 1, '-')
  redis.call('LREM', KEYS[1], 1, '-')
end
-- A list of one line is new (an empty list does not exist): its first expiry, else extended.
if length == 1 then redis.call('PEXPIREAT', KEYS[1], ARGV[4]) else extend(KEYS[1], ARGV[4]) end
for i = 2, #KEYS do
  local added = redis.call('ZADD', KEYS[i], 'GT', ARGV[2], ARGV[1])
  -- A set the cut-off emptied is gone; re-created by the ZADD it has no expiry yet. Only a ZADD
  -- that added the message can have created the set: a later line of it needs no PTTL.
  if ARGV[6 + i] == '1' or (added == 1 and redis.call('PTTL', KEYS[i]) == -1) then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[3])
    extend(KEYS[i], ARGV[7])
  end
end
return 1
`,
}

/**
 * The newest messages in every given set, with their scores in [min, max]. Scans the smallest
 * set newest first and keeps the members present in all the others, until `limit` are found or
 * `budget` members were looked at — so a search never holds Redis for long, and says when it
 * stopped early. With a queue id (ARGV[5]), only that message is checked, against KEYS[1]'s time.
 *
 * KEYS: index sets. ARGV: min, max, limit, budget, queue id or ''.
 * Returns { {member, score, …}, scanned, complete (1: nothing more in range) }.
 */
export const SEARCH: Omit<LuaScript, "numberOfKeys"> = {
  name: "trace-search",
  lua: `
local min, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, budget, only = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local function inOthers(member, skip)
  for i = 1, #KEYS do
    if i ~= skip and not redis.call('ZSCORE', KEYS[i], member) then return false end
  end
  return true
end
if only ~= '' then
  local score = redis.call('ZSCORE', KEYS[1], only)
  if score and tonumber(score) >= min and tonumber(score) <= max and inOthers(only, 1) then
    return { { only, score }, 1, 1 }
  end
  return { {}, 1, 1 }
end
local smallest, size = 1, redis.call('ZCARD', KEYS[1])
for i = 2, #KEYS do
  local n = redis.call('ZCARD', KEYS[i])
  if n < size then smallest, size = i, n end
end
local found, scanned, offset, complete = {}, 0, 0, 0
local page = 200
while #found < 2 * limit and scanned < budget do
  local batch = redis.call('ZRANGE', KEYS[smallest], max, min, 'BYSCORE', 'REV', 'LIMIT', offset, page, 'WITHSCORES')
  local taken = 0
  for j = 1, #batch, 2 do
    if #found >= 2 * limit or scanned >= budget then break end
    scanned = scanned + 1
    taken = taken + 1
    if inOthers(batch[j], smallest) then
      found[#found + 1] = batch[j]
      found[#found + 1] = batch[j + 1]
    end
  end
  offset = offset + taken
  if #batch < 2 * page and taken == #batch / 2 then complete = 1 break end
end
return { found, scanned, complete }
`,
}

const variants = new Map<string, LuaScript>()

/**
 * The script for `n` keys. The number of keys is part of EVALSHA's call, not the script, so one
 * script object per count is kept (its SHA1 is computed once per object by the client).
 */
export const withKeys = (script: Omit<LuaScript, "numberOfKeys">, n: number): LuaScript => {
  const id = `${script.name}/${n}`
  let variant = variants.get(id)
  if (variant === undefined) {
    variant = { ...script, numberOfKeys: n }
    variants.set(id, variant)
  }
  return variant
}
