/**
 * The trace's batching writer on a real redis-server: lines written in one go are recorded in
 * one batch; while Redis does not answer (SIGSTOP) later lines wait in the buffer and go in the
 * next batch once it does; past the bound a line is dropped and counted, never held — a trace
 * Redis far behind cannot grow the relay's memory. Closing waits for the lines in flight.
 */
import type { DeliveryLogLine } from "@mailconnect/delivery-log"
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { Effect, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DEFAULT_RETENTION_MS, makeBatchingWriter, makeTraceIndex } from "../src"
import { sessionIn } from "./lines"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const NOW = Date.now()

describe("the trace's batching writer", () => {
  it("records a burst in one batch, holds lines while Redis is silent, drops past the bound, drains on close", async () => {
    const batches: Array<number> = []
    let overflowed = 0
    let recorded = 0
    const ids = Array.from({ length: 8 }, (_, i) => `w${i}`)
    const found = await Effect.runPromise(
      Effect.gen(function* () {
        const client = yield* RedisClient
        const trace = makeTraceIndex(client, { relay: "relay-a", retentionMs: DEFAULT_RETENTION_MS })
        yield* Effect.scoped(
          Effect.gen(function* () {
            const write = yield* makeBatchingWriter<DeliveryLogLine>({
              record: (lines) =>
                Effect.sync(() => batches.push(lines.length)).pipe(
                  Effect.zipRight(trace.recordAll(lines)),
                  Effect.tap(() => {
                    recorded++
                  }),
                  Effect.orDie,
                ),
              maxPending: 4,
              overflow: Effect.sync(() => overflowed++),
              drainFor: "10 seconds",
            })
            // A burst in one go: one batch.
            yield* Effect.forEach(ids.slice(0, 3), (id, i) => write(sessionIn(id, NOW + i)), {
              discard: true,
            })
            // Written, and the writer idle again.
            yield* Effect.promise(() => waitUntil(() => recorded === 1))
            // Redis silent: the next line's batch hangs; four more wait (the bound), the fifth is dropped.
            redis.pause()
            yield* write(sessionIn(ids[3]!, NOW + 3))
            yield* Effect.promise(() => waitUntil(() => batches.length === 2))
            yield* Effect.forEach(ids.slice(4, 8), (id, i) => write(sessionIn(id, NOW + 4 + i)), {
              discard: true,
            })
            yield* write(sessionIn("dropped", NOW + 9))
            redis.resume()
            // Closing the scope waits for the writer to finish.
          }),
        )
        return yield* Effect.forEach([...ids, "dropped"], (id) =>
          trace.show(id).pipe(Effect.map(Option.isSome)),
        )
      }).pipe(Effect.scoped, Effect.provide(Layer.orDie(redisLayer(redis.url, uniquePrefix("writer"))))),
    )
    expect(batches).toEqual([3, 1, 4])
    expect(overflowed).toBe(1)
    expect(found).toEqual([...ids.map(() => true), false])
  })
})

const waitUntil = async (done: () => boolean) => {
  const deadline = Date.now() + 10_000
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 10))
  }
}
