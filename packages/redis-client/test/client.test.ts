import { randomBytes } from "node:crypto"
import { freePort, type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Chunk, Effect, Either, Fiber, Layer, Option, Stream } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "../src"

let redis: RedisServer
let prefix = ""
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const layerFor = (url: string) =>
  RedisClient.layerWith({ commandTimeoutMs: 500 }).pipe(
    Layer.provideMerge(RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(url, prefix)))),
  )
const run = <A, E>(effect: Effect.Effect<A, E, RedisClient | RedisConnectionFactory>, url = redis.url) =>
  Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(layerFor(url))))

afterEach(() =>
  run(
    Effect.gen(function* () {
      const client = yield* RedisClient
      const keys = (yield* client.call("KEYS", `{${prefix}}:*`)) as Array<string>
      yield* client.del(...keys)
    }),
  ),
)

const SWAP_IF_HIGHER = {
  name: "testSwapIfHigher",
  numberOfKeys: 1,
  lua: `local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1`,
}

describe("RedisClient", () => {
  it("runs commands and scripts under the prefix hash tag", async () => {
    prefix = `t${randomBytes(4).toString("hex")}`
    const result = await run(
      Effect.gen(function* () {
        const client = yield* RedisClient
        const key = client.keys.key("a")
        yield* client.set(key, "1", 10_000)
        const ttl = (yield* client.call("PTTL", key)) as number
        const first = yield* client.script(SWAP_IF_HIGHER, [key], [5])
        const second = yield* client.script(SWAP_IF_HIGHER, [key], [3])
        return {
          ttl,
          first,
          second,
          value: yield* client.get(key),
          missing: yield* client.get(client.keys.key("b")),
        }
      }),
    )
    expect(result.ttl).toBeGreaterThan(0)
    expect([result.first, result.second]).toEqual([1, 0])
    expect(result.value).toEqual(Option.some("5"))
    expect(Option.isNone(result.missing)).toBe(true)
  })

  it("delivers pub/sub messages on a dedicated connection", async () => {
    prefix = `t${randomBytes(4).toString("hex")}`
    const received = await run(
      Effect.gen(function* () {
        const client = yield* RedisClient
        const channel = client.keys.key("chan")
        const fiber = yield* client.subscribe(channel).pipe(Stream.take(2), Stream.runCollect, Effect.fork)
        let receivers = 0
        while (receivers === 0) {
          yield* Effect.sleep("20 millis")
          receivers = yield* client.publish(channel, "one")
        }
        yield* client.publish(channel, "two")
        return Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      }),
    )
    expect(received.slice(-1)).toEqual(["two"])
  })

  it("turns an unreachable server into a tagged error, not a hang", async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}`
    const error = await run(Effect.flip(Effect.flatMap(RedisClient, (c) => c.get("{x}:y"))), nowhere)
    expect(error._tag).toBe("RedisCommandError")
    expect(["unavailable", "timeout"]).toContain(error.reason)
  })

  it("runs many calls of a script in one pipeline, each with its own keys, none twice when the server has to learn it", async () => {
    prefix = `t${randomBytes(4).toString("hex")}`
    const APPEND_ALL = {
      name: "testAppendAll",
      numberOfKeys: 0,
      lua: "for i, k in ipairs(KEYS) do redis.call('RPUSH', k, ARGV[1]) end return #KEYS",
    }
    const lists = await run(
      Effect.gen(function* () {
        const client = yield* RedisClient
        const [a, b] = [client.keys.key("a"), client.keys.key("b")]
        // The script cache emptied (a Redis restart): every call must come back as EVAL, once.
        yield* client.call("SCRIPT", "FLUSH")
        const first = yield* client.scripts(APPEND_ALL, [
          { keys: [a], args: ["1"] },
          { keys: [a, b], args: ["2"] },
        ])
        const second = yield* client.scripts(APPEND_ALL, [{ keys: [b], args: ["3"] }])
        const none = yield* client.scripts(APPEND_ALL, [])
        const failing = yield* Effect.flip(
          client.scripts({ ...APPEND_ALL, name: "testBroken", lua: "return redis.call('NOSUCH')" }, [
            { keys: [a], args: [] },
          ]),
        )
        return {
          first,
          second,
          none,
          failing,
          a: yield* client.call("LRANGE", a, 0, -1),
          b: yield* client.call("LRANGE", b, 0, -1),
        }
      }),
    )
    expect(lists).toMatchObject({ first: [1, 2], second: [1], none: [], failing: { reason: "reply" } })
    expect(lists.a).toEqual(["1", "2"])
    expect(lists.b).toEqual(["2", "3"])
  })

  it("reports Redis error replies as reason reply", async () => {
    const error = await run(Effect.flip(Effect.flatMap(RedisClient, (c) => c.call("NOSUCHCOMMAND"))))
    expect(error).toMatchObject({ _tag: "RedisCommandError", reason: "reply" })
  })
})

describe("RedisClient with auto-pipelining", () => {
  it("runs a script first used in the same tick as other commands (a pipeline opened before the script existed)", async () => {
    prefix = `t${randomBytes(4).toString("hex")}`
    const SET_TO = { name: "testSetTo", numberOfKeys: 1, lua: "redis.call('SET', KEYS[1], ARGV[1]) return 1" }
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const client = yield* RedisClient.connect({ purpose: "autopipelined", autoPipelining: true })
        const key = client.keys.key("tick")
        // One tick: GET opens the auto-pipeline, then the script is called for the first time.
        const [before, set, other] = yield* Effect.all(
          [client.get(key), client.script(SET_TO, [key], ["x"]), client.exists(client.keys.key("none"))],
          { concurrency: "unbounded" },
        )
        return { before, set, other, later: yield* client.get(key) }
      }).pipe(
        Effect.scoped,
        Effect.provide(RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redis.url, prefix)))),
      ),
    )
    expect(result.before).toEqual(Option.none())
    expect(result.set).toBe(1)
    expect(result.other).toBe(false)
    expect(result.later).toEqual(Option.some("x"))
  })
})
