/**
 * Messages per minute on a real redis-server: exact at the window's boundary (Effect TestClock),
 * shared by two relays (Redis TIME), and refused callers pointed at successive times.
 */
import { describe, expect, it } from "@effect/vitest"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { uniquePrefix } from "@mailconnect/test-support"
import { Effect, TestClock } from "effect"
import { afterAll, beforeAll } from "vitest"
import type { Decision } from "../src"
import { fleetKeys, relayLimiter } from "./lab"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const T0 = Date.parse("2026-12-01T09:00:00Z")
const BANK = { messagesPerMinute: 3 }
const admitted = (d: Decision) => d._tag === "Admitted"

describe("messagesPerMinute", () => {
  it.scoped("admits the limit, then nothing until exactly one window after the oldest", () =>
    Effect.gen(function* () {
      const prefix = uniquePrefix("window")
      yield* fleetKeys(redis.url, prefix)
      const limiter = yield* relayLimiter(redis.url, prefix, { clock: "effect" })
      yield* TestClock.setTime(T0)
      const admit = limiter.admit("bank", BANK, "job")
      expect((yield* Effect.all([admit, admit, admit])).map(admitted)).toEqual([true, true, true])
      expect(yield* admit).toEqual({ _tag: "Throttled", limit: "messagesPerMinute", retryAfterMs: 60_000 })
      yield* TestClock.setTime(T0 + 59_999)
      expect(admitted(yield* admit)).toBe(false)
      // The window is half-open: at T0 + 60 s the three grants of T0 have left it.
      yield* TestClock.setTime(T0 + 60_000)
      expect((yield* Effect.all([admit, admit, admit, admit])).map(admitted)).toEqual([
        true,
        true,
        true,
        false,
      ])
    }),
  )

  it.scoped("counts each partner on its own", () =>
    Effect.gen(function* () {
      const prefix = uniquePrefix("partners")
      yield* fleetKeys(redis.url, prefix)
      const limiter = yield* relayLimiter(redis.url, prefix, { clock: "effect" })
      yield* TestClock.setTime(T0)
      const bank = yield* Effect.replicateEffect(limiter.admit("bank", { messagesPerMinute: 1 }, "job"), 2)
      const court = yield* Effect.replicateEffect(limiter.admit("court", { messagesPerMinute: 1 }, "job"), 2)
      expect([...bank, ...court].map(admitted)).toEqual([true, false, true, false])
      expect(admitted(yield* limiter.admit("notary", {}, "job"))).toBe(true)
    }),
  )

  it.scoped("points refused callers at successive times, one emission interval apart", () =>
    Effect.gen(function* () {
      const prefix = uniquePrefix("waiters")
      yield* fleetKeys(redis.url, prefix)
      const limiter = yield* relayLimiter(redis.url, prefix, { clock: "effect" })
      yield* TestClock.setTime(T0)
      const admit = limiter.admit("bank", BANK, "job")
      yield* Effect.replicateEffect(admit, 3)
      const refused = yield* Effect.replicateEffect(admit, 4)
      // 3 a minute: the backlog is spread 20 s apart from the time the window first frees.
      expect(refused.map((d) => (d._tag === "Throttled" ? d.retryAfterMs : 0))).toEqual([
        60_000, 80_000, 100_000, 120_000,
      ])
      // Only advice: a slot that is free is given to whoever asks.
      yield* TestClock.setTime(T0 + 60_000)
      expect(admitted(yield* admit)).toBe(true)
    }),
  )

  it.scoped("holds for two relays sharing it, in Redis time", () =>
    Effect.gen(function* () {
      const prefix = uniquePrefix("fleet")
      const keys = yield* fleetKeys(redis.url, prefix)
      const [a, b] = yield* Effect.all([relayLimiter(redis.url, prefix), relayLimiter(redis.url, prefix)])
      const limits = { messagesPerMinute: 5 }
      const decisions = yield* Effect.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).admit("bank", limits, `job-${i}`)),
        { concurrency: "unbounded" },
      )
      expect(decisions.filter(admitted)).toHaveLength(5)
      for (const d of decisions)
        if (d._tag === "Throttled") {
          expect(d.limit).toBe("messagesPerMinute")
          expect(d.retryAfterMs).toBeGreaterThan(0)
        }
      expect(yield* keys.call("ZCARD", keys.keys.key("limits", "bank", "sent"))).toBe(5)
      expect(Number(yield* keys.call("PTTL", keys.keys.key("limits", "bank", "sent")))).toBeLessThanOrEqual(
        60_000,
      )
    }),
  )
})
