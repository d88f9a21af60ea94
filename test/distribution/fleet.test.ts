/**
 * Three relay processes and the real CLI against one redis-server: publish and convergence,
 * refusals by `publish` and by relays, convergence by polling after the subscriber connection
 * is killed, `fleet status --expect-serial`, and the SIGTERM drain. Tests run in order and share
 * the fleet; each step starts from the state the previous one left.
 */
import { PolicyStore } from "@mailconnect/policy-store"
import { RedisConnectionFactory } from "@mailconnect/redis-client"
import type { Lab, RelayProcess } from "@mailconnect/test-support"
import {
  cli,
  digestIn,
  eventually,
  makeSigner,
  signed,
  startLab,
  startRelay,
  tampered,
} from "@mailconnect/test-support"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let lab: Lab
let relays: Array<RelayProcess> = []

beforeAll(async () => {
  lab = await startLab()
  relays = await Promise.all(["relay-a", "relay-b", "relay-c"].map((id) => startRelay(lab, id)))
  await eventually(async () => (await lab.heartbeats()).length === 3, "three heartbeats")
}, 90_000)

afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop("SIGKILL")))
  await lab?.stop()
})

const allOn = async (serial: number) => {
  const beats = await lab.heartbeats()
  return beats.length === relays.length && beats.every((b) => b.bundle?.serial === serial)
}

const rejects = async (relay: RelayProcess, reason: string) =>
  (await relay.metrics()).get(`mc_policy_rejects_total{origin="redis",reason="${reason}"}`) ?? 0

/** Writes bytes under their stated digest and points `current` at them, as an attacker with Redis access could. */
const writeDirect = (bytes: string, serial: number, schema = 1) =>
  lab.withRedis(
    Effect.gen(function* () {
      const store = yield* PolicyStore
      const factory = yield* RedisConnectionFactory
      const connection = yield* factory.connect({ purpose: "test" })
      const digest = digestIn(bytes)
      yield* Effect.promise(() =>
        connection
          .multi()
          .set(store.keys.bundle(digest), bytes)
          .hset(
            store.keys.current,
            "serial",
            serial,
            "digest",
            digest,
            "schema",
            schema,
            "publishedAt",
            "direct",
          )
          .publish(store.keys.channel, JSON.stringify({ serial, digest }))
          .exec(),
      )
    }).pipe(Effect.provide(PolicyStore.layer)),
  )

describe("bundle distribution to a relay fleet", { timeout: 180_000 }, () => {
  it("has every relay unready until a bundle is published", async () => {
    for (const relay of relays) expect((await relay.ready())?.status).toBe(503)
    const status = await cli(lab, ["fleet", "status", "--expect-serial", "10"])
    expect(status.code).toBe(1)
    expect(status.stderr).toContain("3 of 3 relay(s) not on serial 10")
  })

  it("converges all three relays after `policy publish`", async () => {
    const file = lab.file("serial-10.bundle", signed(lab.signer, 10))
    const published = await cli(lab, ["policy", "publish", "--bundle", file])
    expect(published.stderr).toBe("")
    expect(published.code).toBe(0)
    expect(published.stdout).toContain("published serial 10")
    await eventually(() => allOn(10), "all relays on serial 10")
    for (const relay of relays) {
      expect(await relay.activeSerial()).toBe(10)
      expect((await relay.ready())?.status).toBe(200)
    }
    const status = await cli(lab, ["fleet", "status", "--expect-serial", "10"])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain("all 3 relay(s) run serial 10")
    const json = await cli(lab, ["fleet", "status", "--json"])
    expect(JSON.parse(json.stdout).relays.map((r: { relayId: string }) => r.relayId)).toEqual([
      "relay-a",
      "relay-b",
      "relay-c",
    ])
  })

  const refusedByPublish: ReadonlyArray<[string, () => string, string]> = [
    ["a tampered bundle", () => tampered(signed(lab.signer, 11)), "was altered after signing"],
    [
      "a bundle signed by an unknown key",
      () => signed(makeSigner(), 11),
      "which MAILCONNECT_TRUSTED_KEYS does not list",
    ],
    ["a lower serial", () => signed(lab.signer, 9), "serial 9 is not above the current serial 10"],
    [
      "a schema no live relay can read",
      () => signed(lab.signer, 11, { schema: 2 }),
      "bundle schema 2 cannot be read by live relay(s) relay-a, relay-b, relay-c",
    ],
  ]
  for (const [what, bytes, message] of refusedByPublish) {
    it(`publish refuses ${what} with exit 1; the fleet stays on serial 10`, async () => {
      const result = await cli(lab, ["policy", "publish", "--bundle", lab.file("bad.bundle", bytes())])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain("publish refused")
      expect(result.stderr).toContain(message)
      expect(await allOn(10)).toBe(true)
    })
  }

  const refusedByRelays: ReadonlyArray<[string, () => string, number, string]> = [
    ["a tampered bundle", () => tampered(signed(lab.signer, 11)), 11, "BundleDigestMismatch"],
    ["a bundle signed by an unknown key", () => signed(makeSigner(), 12), 12, "BundleUnknownKey"],
    ["a lower serial", () => signed(lab.signer, 9, { partnerMode: "mtls" }), 13, "BundleSerialNotAbove"],
    ["an unsupported schema", () => signed(lab.signer, 14, { schema: 2 }), 14, "BundleSchemaUnsupported"],
  ]
  for (const [what, bytes, pointerSerial, reason] of refusedByRelays) {
    it(`every relay refuses ${what} written straight into Redis and keeps serial 10`, async () => {
      await writeDirect(bytes(), pointerSerial)
      await eventually(
        async () => (await Promise.all(relays.map((r) => rejects(r, reason)))).every((n) => n === 1),
        `${reason} counted by every relay`,
      )
      for (const relay of relays) {
        expect(await relay.activeSerial()).toBe(10)
        expect((await relay.ready())?.status).toBe(200)
      }
      expect(await allOn(10)).toBe(true)
    })
  }

  it("converges by polling when the subscriber connections were killed before the notice", async () => {
    const bytes = signed(lab.signer, 20)
    const receivers = await lab.withRedis(
      Effect.gen(function* () {
        const store = yield* PolicyStore
        const factory = yield* RedisConnectionFactory
        const connection = yield* factory.connect({ purpose: "test" })
        const digest = digestIn(bytes)
        // One transaction: subscribers are gone before the notice, so nobody can receive it.
        const replies = yield* Effect.promise(() =>
          connection
            .multi()
            .call("CLIENT", "KILL", "TYPE", "pubsub")
            .set(store.keys.bundle(digest), bytes)
            .hset(store.keys.current, "serial", 20, "digest", digest, "schema", 1, "publishedAt", "direct")
            .publish(store.keys.channel, JSON.stringify({ serial: 20, digest }))
            .exec(),
        )
        return { killed: replies?.[0]?.[1], receivers: replies?.[3]?.[1] }
      }).pipe(Effect.provide(PolicyStore.layer)),
    )
    expect(receivers.killed).toBeGreaterThanOrEqual(3)
    expect(receivers.receivers).toBe(0)
    await eventually(() => allOn(20), "all relays on serial 20 by polling")
    const status = await cli(lab, ["fleet", "status", "--expect-serial", "20"])
    expect(status.code).toBe(0)
  })

  it("drains on SIGTERM: readiness false, heartbeat draining, then removed; exit 0", async () => {
    const drained = await startRelay(lab, "relay-d", { env: { RELAY_DRAIN_DELAY: "1500ms" } })
    relays.push(drained)
    await eventually(() => allOn(20), "relay-d on serial 20")
    const exit = drained.stop("SIGTERM")
    await eventually(async () => (await drained.ready())?.body.draining === true, "readyz reports draining")
    expect((await drained.ready())?.status).toBe(503)
    await eventually(
      async () => (await lab.heartbeats()).find((b) => b.relayId === "relay-d")?.draining === true,
      "heartbeat shows draining",
    )
    expect(await exit).toBe(0)
    relays = relays.filter((r) => r !== drained)
    expect((await lab.heartbeats()).map((b) => b.relayId)).toEqual(["relay-a", "relay-b", "relay-c"])
    expect(drained.output()).toContain("heartbeat removed")
  })
})
