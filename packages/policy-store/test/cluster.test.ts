/**
 * Publish and hot-load over `redis-cluster://` against a real (single-node) Redis Cluster: the
 * Lua swap and multi-key reads only work there because every key shares the `{prefix}` hash tag.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FleetRegistry } from "@mailconnect/fleet"
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { eventually, makeSigner, signed } from "@mailconnect/test-support"
import { Effect, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ActivePolicy, publishBundle } from "../src"
import { activeLayer, redisLayer, storeLayer } from "./support/harness"

let node: RedisServer
let url = ""
const prefix = "clu"
const signer = makeSigner()
const stateDir = mkdtempSync(join(tmpdir(), "mc-cluster-"))

beforeAll(async () => {
  // A lone node does not know its own address; announce it or CLUSTER SLOTS names host "".
  node = await startRedis({
    args: [
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      "--cluster-announce-ip",
      "127.0.0.1",
    ],
  })
  const plain = redisLayer(node.url, prefix)
  await Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* RedisClient
      yield* client.call("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    }).pipe(Effect.scoped, Effect.provide(plain)),
  )
  await eventually(
    () =>
      Effect.runPromise(
        Effect.gen(function* () {
          const client = yield* RedisClient
          return String(yield* client.call("CLUSTER", "INFO")).includes("cluster_state:ok")
        }).pipe(Effect.scoped, Effect.provide(plain)),
      ),
    "cluster_state:ok",
  )
  url = `redis-cluster://127.0.0.1:${node.port}`
})

afterAll(async () => {
  await node?.stop()
  rmSync(stateDir, { recursive: true, force: true })
})

describe("on Redis Cluster", () => {
  it("publishes with the Lua swap, hot-loads, and lists heartbeats", async () => {
    const relays = await Effect.runPromise(
      Effect.gen(function* () {
        const policy = yield* ActivePolicy
        yield* Effect.sleep("200 millis")
        yield* publishBundle({
          bytes: signed(signer, 1),
          trusted: [signer.trusted],
          readers: [],
          force: false,
        })
        const refused = yield* Effect.flip(
          publishBundle({ bytes: signed(signer, 1), trusted: [signer.trusted], readers: [], force: false }),
        )
        expect(refused._tag).toBe("BundleSerialNotAbove")
        yield* Effect.promise(() =>
          eventually(
            async () => Option.isSome(await Effect.runPromise(policy.current)),
            "activation on the cluster",
          ),
        )
        const fleet = yield* FleetRegistry
        yield* fleet.beat(
          {
            relayId: "cluster-relay",
            version: "t",
            hostname: "h",
            pid: 1,
            roles: ["delivery"],
            bundle: { serial: 1, digest: "d", schema: 1 },
            supportedSchemas: [1],
            draining: false,
            startedAt: "x",
            updatedAt: "x",
          },
          "1 minute",
        )
        return (yield* fleet.live).relays.map((r) => r.relayId)
      }).pipe(
        Effect.scoped,
        Effect.provide(
          Layer.mergeAll(
            activeLayer(url, prefix, stateDir, [signer.trusted], { pollInterval: "200 millis" }),
            FleetRegistry.layer.pipe(Layer.provide(redisLayer(url, prefix))),
            storeLayer(url, prefix),
          ),
        ),
      ),
    )
    expect(relays).toEqual(["cluster-relay"])
  })
})
