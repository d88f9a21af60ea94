/**
 * The memory high-water mark read from a real Redis: none below the mark, the reading above it,
 * none again once memory frees or when maxmemory is unlimited; polled on the injected clock.
 */
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, Layer, Option, TestClock, TestContext } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MemoryWatermark, pressureOf, readingOf } from "../src"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const usedMemory = async () => {
  const info = String(await redisCommand(redis.port, "INFO", "memory"))
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1])
}
const setMaxMemory = (bytes: number) => redisCommand(redis.port, "CONFIG", "SET", "maxmemory", String(bytes))

const layerFor = (highWater: number) =>
  MemoryWatermark.layer({ highWater, intervalMs: 1_000 }).pipe(
    Layer.provideMerge(RedisClient.layer),
    Layer.provideMerge(
      RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redis.url, "watermark"))),
    ),
  )

/** The clock moved and some real time given: for a watermark that is off and reads nothing. */
const aWhile = Effect.gen(function* () {
  yield* TestClock.adjust("1 second")
  yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
})

/** INFO commands the server has run so far (this probe not included: it is counted after it). */
const infoCalls = async () => {
  const stats = String(await redisCommand(redis.port, "INFO", "commandstats"))
  return Number(/^cmdstat_info:calls=(\d+)/m.exec(stats)?.[1] ?? 0)
}

/**
 * Lets the polling fiber take its next reading: the clock moved, then wait — in real time, as
 * long as a loaded machine needs — until the server has run the watermark's INFO (our own
 * probes counted out), and a moment for its reply to be taken in.
 */
const nextReading = Effect.gen(function* () {
  const before = yield* Effect.promise(infoCalls)
  yield* TestClock.adjust("1 second")
  yield* Effect.promise(async () => {
    const deadline = Date.now() + 10_000
    for (let probes = 1; (await infoCalls()) - before - probes < 1; probes++) {
      if (Date.now() > deadline) throw new Error("the watermark took no reading")
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  })
})

describe("MemoryWatermark", () => {
  it("reads INFO memory: above the mark only with a limit, counting what was stored since", () => {
    const info = (used: number, max: number) => `# Memory\r\nused_memory:${used}\r\nmaxmemory:${max}\r\n`
    expect(pressureOf(readingOf(info(950, 1000)), 0, 0.9)).toEqual(
      Option.some({ usedBytes: 950, maxBytes: 1000 }),
    )
    expect(pressureOf(readingOf(info(899, 1000)), 0, 0.9)).toEqual(Option.none())
    expect(pressureOf(readingOf(info(800, 1000)), 100, 0.9)).toEqual(
      Option.some({ usedBytes: 900, maxBytes: 1000 }),
    )
    expect(readingOf(info(5_000_000, 0))).toBeUndefined()
    expect(readingOf("garbage")).toBeUndefined()
    expect(pressureOf(undefined, 1e9, 0.9)).toEqual(Option.none())
  })

  it("reports pressure once Redis fills past the mark and clears it when the limit is raised", async () => {
    const readings = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const watermark = yield* MemoryWatermark
          yield* nextReading
          const before = yield* watermark.pressure
          const used = yield* Effect.promise(usedMemory)
          // used is now 95 % of the limit: over a 90 % mark, still under maxmemory itself.
          yield* Effect.promise(() => setMaxMemory(Math.round(used / 0.95)))
          yield* nextReading
          const full = yield* watermark.pressure
          yield* Effect.promise(() => setMaxMemory(0))
          yield* nextReading
          const after = yield* watermark.pressure
          return { before, full, after }
        }).pipe(Effect.provide(layerFor(0.9)), Effect.provide(TestContext.TestContext)),
      ),
    ).finally(() => setMaxMemory(0))
    expect(readings.before).toEqual(Option.none())
    expect(Option.getOrThrow(readings.full).usedBytes).toBeGreaterThan(0)
    expect(Option.getOrThrow(readings.full).maxBytes).toBeGreaterThan(0)
    expect(readings.after).toEqual(Option.none())
  })

  it("counts what this process stored since the last reading, until the next one", async () => {
    const readings = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const watermark = yield* MemoryWatermark
          const used = yield* Effect.promise(usedMemory)
          // 80 % of the limit: under the mark until this process reports another 20 % stored.
          yield* Effect.promise(() => setMaxMemory(Math.round(used / 0.8)))
          yield* nextReading
          const under = yield* watermark.pressure
          yield* watermark.stored(Math.round(used * 0.25))
          const afterStoring = yield* watermark.pressure
          yield* nextReading
          const afterReading = yield* watermark.pressure
          return { under, afterStoring, afterReading }
        }).pipe(Effect.provide(layerFor(0.9)), Effect.provide(TestContext.TestContext)),
      ),
    ).finally(() => setMaxMemory(0))
    expect(readings.under).toEqual(Option.none())
    expect(Option.isSome(readings.afterStoring)).toBe(true)
    // The next reading is Redis's own figure again (nothing was really stored here).
    expect(readings.afterReading).toEqual(Option.none())
  })

  it("is off at 0: no pressure even at maxmemory", async () => {
    const pressure = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const watermark = yield* MemoryWatermark
          yield* Effect.promise(() => setMaxMemory(1))
          yield* aWhile
          return yield* watermark.pressure
        }).pipe(Effect.provide(layerFor(0)), Effect.provide(TestContext.TestContext)),
      ),
    ).finally(() => setMaxMemory(0))
    expect(pressure).toEqual(Option.none())
  })
})
