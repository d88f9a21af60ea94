/** `redis-sentinel://` against a real Sentinel (redis-server --sentinel) monitoring a real master. */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort, type RedisServer, startRedis } from "@mailconnect/test-redis"
import { waitFor } from "@mailconnect/test-support"
import { Effect, Either, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "../src"

let master: RedisServer
let sentinel: ChildProcess
let sentinelPort = 0
let dir = ""

beforeAll(async () => {
  master = await startRedis()
  dir = mkdtempSync(join(tmpdir(), "mc-sentinel-"))
  sentinelPort = await freePort()
  const conf = join(dir, "sentinel.conf")
  writeFileSync(
    conf,
    [
      `port ${sentinelPort}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor mcmaster 127.0.0.1 ${master.port} 1`,
      "sentinel down-after-milliseconds mcmaster 60000",
      "",
    ].join("\n"),
  )
  sentinel = spawn("redis-server", [conf, "--sentinel"], { stdio: "ignore" })
  // Sentinel answers once it has loaded its config; it learns the master on its first ping.
  await waitFor(
    "sentinel to answer GET-MASTER-ADDR-BY-NAME",
    async () => {
      const ok = await Effect.runPromise(
        Effect.gen(function* () {
          const client = yield* RedisClient
          return yield* client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mcmaster")
        }).pipe(
          Effect.scoped,
          Effect.provide(
            RedisClient.layerWith({ commandTimeoutMs: 300 }).pipe(
              Layer.provide(
                RedisConnectionFactory.layerFrom(
                  Either.getOrThrow(parseRedisUrl(`redis://127.0.0.1:${sentinelPort}`, "probe")),
                ),
              ),
            ),
          ),
          Effect.either,
        ),
      )
      return Either.isRight(ok) && Array.isArray(ok.right)
    },
    20_000,
  )
})

afterAll(async () => {
  sentinel?.kill("SIGTERM")
  await master?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe("Sentinel", () => {
  it("finds the master through Sentinel and runs commands on it", async () => {
    const url = `redis-sentinel://127.0.0.1:${sentinelPort}/mcmaster`
    const config = Either.getOrThrow(parseRedisUrl(url, "sent"))
    const value = await Effect.runPromise(
      Effect.gen(function* () {
        const client = yield* RedisClient
        yield* client.set(client.keys.key("k"), "via-sentinel")
        const read = yield* client.get(client.keys.key("k"))
        yield* client.del(client.keys.key("k"))
        return read
      }).pipe(
        Effect.scoped,
        Effect.provide(RedisClient.layer.pipe(Layer.provide(RedisConnectionFactory.layerFrom(config)))),
      ),
    )
    expect(value).toEqual(Option.some("via-sentinel"))
  })
})
