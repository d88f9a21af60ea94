/**
 * A Cluster connection asked to auto-pipeline (`autoPipelining`, as the spool, trace and
 * statistics connections are) must still run scripts and commands of one tick on keys of many
 * slots: ioredis 5.9's Cluster auto-pipeline files an EVAL/EVALSHA under its first argument's slot
 * (the script's) and refuses the batch, so the factory never turns it on for a Cluster. Real
 * 3-master Cluster, through `RedisClient` as the relay uses it.
 */
import { type RedisCluster, startCluster } from "@mailconnect/test-redis"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "../src"

let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startCluster()
}, 60_000)
afterAll(() => cluster.stop())

const COUNT_KEYS = { name: "testCountKeys", numberOfKeys: 2, lua: "return #KEYS" }

describe("Cluster connections asked to auto-pipeline", () => {
  it("run scripts and commands of one tick on keys of many slots", async () => {
    const outcomes = await Effect.runPromise(
      Effect.gen(function* () {
        const redis = yield* RedisClient.connect({ purpose: "test", autoPipelining: true })
        return yield* Effect.all(
          Array.from({ length: 60 }, (_, i) =>
            (i % 2 === 0
              ? redis.script(COUNT_KEYS, [`{ap:${i}}:a`, `{ap:${i}}:b`], ["x"])
              : redis.call("HSET", `{ap:${i}}:h`, "f", Buffer.from("v"))
            ).pipe(Effect.either),
          ),
          { concurrency: "unbounded" },
        )
      }).pipe(
        Effect.scoped,
        Effect.provide(RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(cluster.url, "ap")))),
      ),
    )
    expect(outcomes.filter(Either.isLeft).map((e) => e.left)).toEqual([])
    expect(outcomes.filter((o, i) => i % 2 === 0 && Either.isRight(o) && o.right === 2)).toHaveLength(30)
  })

  it("run many calls of a script in one pipeline per slot, the script learnt on the node that owns it", async () => {
    const results = await Effect.runPromise(
      Effect.gen(function* () {
        const redis = yield* RedisClient.connect({ purpose: "test" })
        // Three tags on (most likely) three masters, each its own pipeline, each a first use there.
        return yield* Effect.forEach(["x", "y", "z"], (tag) =>
          redis.scripts(
            { ...COUNT_KEYS, name: "testCountKeysMany", lua: "return #KEYS + 100" },
            Array.from({ length: 5 }, (_, i) => ({ keys: [`{many:${tag}}:${i}`], args: [] })),
          ),
        )
      }).pipe(
        Effect.scoped,
        Effect.provide(
          RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(cluster.url, "many"))),
        ),
      ),
    )
    expect(results).toEqual([
      [101, 101, 101, 101, 101],
      [101, 101, 101, 101, 101],
      [101, 101, 101, 101, 101],
    ])
  })
})
