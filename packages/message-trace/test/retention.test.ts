/**
 * The trace stays bounded by its retention on a real redis-server: index entries older than the
 * retention are cut when the index is next written (the clock is Effect's `TestClock`, moved 31
 * days), a line older than the retention leaves no record (its key's expiry is already past),
 * and ninety days of mail leave only the last thirty days' keys — every one with an expiry.
 */
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { Effect, Layer, Option, TestClock, TestContext } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DAY_MS, makeTraceIndex, type TraceIndexShape } from "../src"
import { attempt, sessionIn } from "./lines"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const RETENTION = 30 * DAY_MS

/** The body runs under `TestClock` (set to `start`); Redis's own clock is the real one. */
const run = <A>(
  start: number,
  body: (trace: TraceIndexShape, client: RedisClient["Type"]) => Effect.Effect<A, unknown>,
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* RedisClient
      return yield* Effect.gen(function* () {
        yield* TestClock.setTime(start)
        return yield* body(makeTraceIndex(client, { relay: "r", retentionMs: RETENTION }), client)
      }).pipe(Effect.provide(TestContext.TestContext))
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(redisLayer(redis.url, uniquePrefix("retention"))))),
  )

const traceKeys = (client: RedisClient["Type"]) =>
  client.call("KEYS", client.keys.key("trace", "*")) as Effect.Effect<ReadonlyArray<string>, unknown>

describe("trace retention", () => {
  it("cuts index entries older than the retention when the index is written again", async () => {
    const start = Date.now()
    const found = await run(start, (trace, client) =>
      Effect.gen(function* () {
        yield* trace.record(attempt("old", start, { partner: "bank" }))
        const before = (yield* trace.search({ partner: "bank", limit: 10 })).records.map((r) => r.queueId)
        yield* TestClock.adjust(31 * DAY_MS)
        yield* trace.record(attempt("new", start + 31 * DAY_MS, { partner: "bank" }))
        const after = (yield* trace.search({ partner: "bank", limit: 10 })).records.map((r) => r.queueId)
        const all = yield* client.call("ZRANGE", client.keys.key("trace", "all"), 0, -1)
        return { before, after, all }
      }),
    )
    expect(found).toEqual({ before: ["old"], after: ["new"], all: ["new"] })
  })

  it("keeps no record of a line older than the retention, and an expiry on every key it writes", async () => {
    const now = Date.now()
    const found = await run(now, (trace, client) =>
      Effect.gen(function* () {
        yield* trace.record(sessionIn("stale", now - 31 * DAY_MS))
        yield* trace.record(sessionIn("fresh", now - DAY_MS))
        const keys = yield* traceKeys(client)
        const ttls = yield* Effect.forEach(keys, (k) => client.call("PTTL", k))
        return {
          stale: yield* trace.show("stale"),
          fresh: Option.isSome(yield* trace.show("fresh")),
          ttls: ttls as ReadonlyArray<number>,
        }
      }),
    )
    expect(found.stale).toEqual(Option.none())
    expect(found.fresh).toBe(true)
    expect(found.ttls.length).toBeGreaterThan(0)
    // Every key expires within the retention of the newest line written to it (index sets a
    // minute later: they are maintained once a minute, and must outlive their entries).
    for (const ttl of found.ttls) {
      expect(ttl).toBeGreaterThan(28 * DAY_MS)
      expect(ttl).toBeLessThanOrEqual(29 * DAY_MS + 60_000)
    }
  })

  it("after ninety days of mail holds only the last thirty days' messages and keys", async () => {
    const now = Date.now()
    const DAYS = 90
    const PER_DAY = 10
    const found = await run(now - DAYS * DAY_MS, (trace, client) =>
      Effect.gen(function* () {
        for (let day = 0; day < DAYS; day++)
          for (let i = 0; i < PER_DAY; i++) {
            // Six hours into each day: no message sits on the retention's edge.
            const at = now - (DAYS - day) * DAY_MS + 6 * 3_600_000 + i * 60_000
            yield* TestClock.setTime(at)
            const queueId = `d${day}-${i}`
            // A new recipient each message: the per-address keys are the ones that could pile up.
            const recipient = `user${day}-${i}@bank.example`
            yield* trace.record(
              sessionIn(queueId, at, { recipients: [recipient], messageId: `${queueId}@c.example` }),
            )
            yield* trace.record(
              attempt(queueId, at + 1_000, {
                messageId: `${queueId}@c.example`,
                recipients: [{ address: recipient, outcome: "delivered", status: "2.0.0" }],
              }),
            )
          }
        // Today's message: the cut-off is now exactly thirty days back.
        yield* TestClock.setTime(now)
        yield* trace.record(sessionIn("today", now, { recipients: ["today@bank.example"] }))
        const keys = yield* traceKeys(client)
        const withoutExpiry = (yield* Effect.forEach(keys, (k) => client.call("PTTL", k))).filter(
          (t) => t === -1,
        )
        return {
          keys,
          withoutExpiry,
          indexed: (yield* client.call("ZCARD", client.keys.key("trace", "all"))) as number,
        }
      }),
    )
    // The last 30 days, and today's.
    const kept = 30 * PER_DAY + 1
    expect(found.indexed).toBe(kept)
    expect(found.withoutExpiry).toEqual([])
    const messages = found.keys.filter((k) => k.includes(":trace:msg:"))
    expect(messages).toHaveLength(kept)
    // Per message: its record, its recipient, its Message-ID; shared: all, from, from-domain, to-domain, partner.
    expect(found.keys).toHaveLength(kept * 3 + 5)
  })
})
