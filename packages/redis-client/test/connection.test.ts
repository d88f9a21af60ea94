/**
 * What a new connection does to the server: it names itself, and leaves no error behind. ioredis
 * announces itself with CLIENT SETINFO, which Redis before 7.2 (Debian 12 ships 7.0) refuses:
 * two errors per connection in `INFO errorstats`, where an operator looks for real ones.
 */
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { parseRedisUrl, RedisConnectionFactory } from "../src"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

it("a new connection is named for its purpose and leaves no error in Redis's error statistics", async () => {
  const { errors, names } = await Effect.runPromise(
    Effect.gen(function* () {
      const factory = yield* RedisConnectionFactory
      const first = yield* factory.connect({ purpose: "spool" })
      const second = yield* factory.connect({ purpose: "bullmq", maxRetriesPerRequest: null })
      yield* Effect.promise(() => Promise.all([first.ping(), second.ping()]))
      const errors = yield* Effect.promise(() => first.info("errorstats"))
      const names = yield* Effect.promise(() => second.client("LIST") as Promise<string>)
      return { errors, names }
    }).pipe(
      Effect.scoped,
      Effect.provide(RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redis.url)))),
    ),
  )
  expect(names).toContain("name=mc:spool")
  expect(names).toContain("name=mc:bullmq")
  expect(errors.split("\r\n").filter((line) => line.startsWith("errorstat_"))).toEqual([])
})
