import { randomBytes } from "node:crypto"
import { RedisClient } from "@mailconnect/redis-client"
import { fleetRegistryRedis } from "@mailconnect/test-support/vitest"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { FleetRegistry, type RelayHeartbeat } from "../src"

const redis = fleetRegistryRedis()

const heartbeat = (relayId: string, overrides: Partial<RelayHeartbeat> = {}): RelayHeartbeat => ({
  relayId,
  version: "0.1.0",
  hostname: "test",
  pid: 1,
  roles: ["ingress", "delivery"],
  bundle: { serial: 3, digest: "sha256:ab", schema: 1 },
  supportedSchemas: [1],
  draining: false,
  startedAt: "2026-11-28T00:00:00.000Z",
  updatedAt: "2026-11-28T00:00:01.000Z",
  ...overrides,
})

describe("FleetRegistry", () => {
  it("lists live relays sorted, and forgets removed ones", async () => {
    redis.prefix = `t${randomBytes(4).toString("hex")}`
    const { before, after } = await redis.run(
      Effect.gen(function* () {
        const fleet = yield* FleetRegistry
        yield* fleet.beat(heartbeat("relay-b", { draining: true }), "10 seconds")
        yield* fleet.beat(
          heartbeat("relay-a", { bundle: null, queues: { delivery: { waiting: 3 } } }),
          "10 seconds",
        )
        const before = yield* fleet.live
        yield* fleet.remove("relay-b")
        return { before, after: yield* fleet.live }
      }),
    )
    expect(before.relays.map((r) => r.relayId)).toEqual(["relay-a", "relay-b"])
    expect(before.relays[0]).toMatchObject({ bundle: null, queues: { delivery: { waiting: 3 } } })
    expect(before.relays[1]?.draining).toBe(true)
    expect(after.relays.map((r) => r.relayId)).toEqual(["relay-a"])
  })

  it("drops a relay whose heartbeat expired", async () => {
    redis.prefix = `t${randomBytes(4).toString("hex")}`
    const live = await redis.run(
      Effect.gen(function* () {
        const fleet = yield* FleetRegistry
        yield* fleet.beat(heartbeat("gone"), "150 millis")
        yield* fleet.beat(heartbeat("alive"), "30 seconds")
        yield* Effect.sleep("400 millis")
        return yield* fleet.live
      }),
    )
    expect(live.relays.map((r) => r.relayId)).toEqual(["alive"])
  })

  it("reports an unreadable record instead of failing, and ignores unknown fields", async () => {
    redis.prefix = `t${randomBytes(4).toString("hex")}`
    const live = await redis.run(
      Effect.gen(function* () {
        const fleet = yield* FleetRegistry
        const client = yield* RedisClient
        yield* fleet.beat(heartbeat("odd"), "30 seconds")
        yield* fleet.beat(heartbeat("future"), "30 seconds")
        yield* client.set(client.keys.key("fleet", "relay", "odd"), "{not json")
        const future = JSON.stringify({ ...heartbeat("future"), someNewFigure: 42 })
        yield* client.set(client.keys.key("fleet", "relay", "future"), future)
        return yield* fleet.live
      }),
    )
    expect(live.relays.map((r) => r.relayId)).toEqual(["future"])
    expect(live.unreadable.map((u) => u.key)).toEqual([`{${redis.prefix}}:fleet:relay:odd`])
  })
})
