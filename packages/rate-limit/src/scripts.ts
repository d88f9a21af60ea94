/**
 * The two Lua scripts of the limiter. Each decision is one script, so the check and the count are
 * atomic however many relays ask at once. Time is Redis `TIME` unless the caller passes its own
 * (tests with the Effect TestClock): relays whose clocks disagree then still count in one clock.
 *
 * Keys (one partner, all under the fleet's hash tag, so one slot on Cluster):
 *   KEYS[1] `…:sent`     ZSET  grant → its time (ms): the sliding window of messages
 *   KEYS[2] `…:waiting`  STRING the next time handed to a refused caller (spreads the waiters)
 *   KEYS[3] `…:sessions` ZSET  holder → lease expiry (ms): the session slots
 */
import type { LuaScript } from "@mailconnect/redis-client"

const NOW = `
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
`

/**
 * ARGV: now ('' = TIME), messages per window (0 = no rate limit), window ms, sessions (0 = no
 * connections limit), holder, lease ms, session retry ms.
 * Returns {1, now} admitted; {0, 'messagesPerMinute' | 'connections', retryAfterMs} refused.
 *
 * The window is half-open: a grant at t counts until t + window, and at exactly t + window the
 * slot is free again, so any interval of `window` ms holds at most `messages` grants. A refused
 * caller gets the time the oldest grant leaves the window — or, when others were already sent
 * there, the next one after them, one emission interval (window / messages) apart — so a backlog
 * wakes about as fast as the window frees rather than all at once. That time is advice: the
 * caller asks again then, and only this script's count decides.
 *
 * The session slot is taken only together with a message, so a refused rate never holds a slot.
 */
export const admitScript: LuaScript = {
  name: "rate-limit-admit",
  numberOfKeys: 3,
  lua: `${NOW}
local messages = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local sessions = tonumber(ARGV[4])
local holder = ARGV[5]
local lease = tonumber(ARGV[6])
local sessionRetry = tonumber(ARGV[7])
if sessions > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if not redis.call('ZSCORE', KEYS[3], holder) and redis.call('ZCARD', KEYS[3]) >= sessions then
    local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    return {0, 'connections', math.max(1, math.min(tonumber(first[2]) - now, sessionRetry))}
  end
end
if messages > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  if redis.call('ZCARD', KEYS[1]) >= messages then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    local at = math.max(tonumber(oldest[2]) + window, tonumber(redis.call('GET', KEYS[2]) or 0))
    local interval = math.ceil(window / messages)
    redis.call('SET', KEYS[2], at + interval, 'PX', at + interval - now + window)
    return {0, 'messagesPerMinute', math.max(1, at - now)}
  end
  redis.call('ZADD', KEYS[1], now, now .. ':' .. holder)
  redis.call('PEXPIRE', KEYS[1], window)
end
if sessions > 0 then
  redis.call('ZADD', KEYS[3], now + lease, holder)
  redis.call('PEXPIRE', KEYS[3], lease)
end
return {1, now}
`,
}

/**
 * ARGV: now ('' = TIME), holder, lease ms. Extends a held lease; returns 0 when the lease had
 * already lapsed (the slot may be someone else's by now: the holder is not given it back).
 */
export const renewScript: LuaScript = {
  name: "rate-limit-renew",
  numberOfKeys: 1,
  lua: `${NOW}
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
`,
}
