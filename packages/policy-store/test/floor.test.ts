/**
 * The fleet-wide anti-rollback floor, attacked by a Redis writer: a relay without its disk copy
 * refuses an older (validly signed) bundle that the `current` pointer names; deleting, lowering or
 * forging the floor record neither rolls back a relay that has seen higher nor raises one without
 * a signed bundle; `publish` refuses a serial at or below the floor.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { digestIn, eventually, makeSigner, signed } from "@mailconnect/test-support"
import { Effect, Either, type Layer, Metric, Option } from "effect"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { ActivePolicy, PolicyMetrics, PolicyStore, publishBundle } from "../src"
import { activeLayer, cleanPrefix, storeLayer, uniquePrefix } from "./support/harness"

let redis: RedisServer
let prefix: string
const stateDirs: Array<string> = []
const signer = makeSigner()

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())
beforeEach(() => {
  prefix = uniquePrefix()
})
afterEach(async () => {
  await cleanPrefix(redis.url, prefix)
  for (const dir of stateDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A relay's state directory; a fresh one is a relay started without its last-known-good copy. */
const freshStateDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "mc-floor-"))
  stateDirs.push(dir)
  return dir
}

const inStore = <A, E>(effect: Effect.Effect<A, E, PolicyStore | RedisClient>) =>
  Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(storeLayer(redis.url, prefix))))

const publish = (bytes: string) =>
  inStore(publishBundle({ bytes, trusted: [signer.trusted], readers: [], force: false }).pipe(Effect.either))

/** A Redis writer: bytes and pointer straight into Redis, bypassing every publish-side check. */
const writeDirect = (bytes: string, serial: number) =>
  inStore(
    Effect.gen(function* () {
      const redis = yield* RedisClient
      const store = yield* PolicyStore
      const digest = digestIn(bytes)
      yield* redis.set(store.keys.bundle(digest), bytes)
      yield* redis.call("HSET", store.keys.current, "serial", serial, "digest", digest, "schema", 1)
      yield* redis.call("HSET", store.keys.current, "publishedAt", "x")
      yield* redis.publish(store.keys.channel, "{}")
    }),
  )

const writeFloor = (fields: Record<string, string> | undefined) =>
  inStore(
    Effect.gen(function* () {
      const redis = yield* RedisClient
      const store = yield* PolicyStore
      yield* redis.del(store.keys.floor)
      if (fields) yield* redis.call("HSET", store.keys.floor, ...Object.entries(fields).flat())
    }),
  )

const withRelay = <A>(
  stateDir: string,
  body: (policy: typeof ActivePolicy.Service) => Effect.Effect<A, unknown>,
) =>
  Effect.runPromise(
    Effect.flatMap(ActivePolicy, body).pipe(
      Effect.scoped,
      Effect.provide(
        activeLayer(redis.url, prefix, stateDir, [signer.trusted], {
          pollInterval: "30 seconds",
        }) as Layer.Layer<ActivePolicy>,
      ),
    ),
  )

const serialOf = (policy: typeof ActivePolicy.Service) =>
  policy.current.pipe(Effect.map(Option.match({ onNone: () => 0, onSome: (b) => b.serial })))

const refusedBelowFloor = (policy: typeof ActivePolicy.Service, times: number) =>
  Effect.promise(() =>
    eventually(
      async () => ((await Effect.runPromise(policy.rejectCounts)).BundleBelowFloor ?? 0) >= times,
      "a BundleBelowFloor refusal",
    ),
  )

const belowFloorMetric = Metric.tagged(
  Metric.tagged(PolicyMetrics.rejects, "reason", "BundleBelowFloor"),
  "origin",
  "redis",
)

/** A relay of the fleet activates serial 5: the fleet floor is 5. */
const fleetAt5 = async () => {
  await publish(signed(signer, 1))
  await publish(signed(signer, 5, { partnerMode: "mtls" }))
  await withRelay(freshStateDir(), (policy) => serialOf(policy).pipe(Effect.map((s) => expect(s).toBe(5))))
}

describe("fleet anti-rollback floor", () => {
  it("is raised by a relay's activation and never lowered by a later, lower raise", async () => {
    await fleetAt5()
    const after = await inStore(
      Effect.gen(function* () {
        const store = yield* PolicyStore
        const lowered = yield* store.raiseFloor({ serial: 3, digest: "sha256:whatever" })
        return { lowered, floor: yield* store.readFloor }
      }),
    )
    expect(after.lowered).toBe(5)
    expect(Option.getOrThrow(after.floor)).toEqual({
      serial: 5,
      digest: digestIn(signed(signer, 5, { partnerMode: "mtls" })),
    })
  })

  it("refuses an older signed bundle named by the pointer on a relay without its disk copy, counted by reason", async () => {
    await fleetAt5()
    const before = await Effect.runPromise(Metric.value(belowFloorMetric))
    // The attacker points `current` at the validly signed serial 3 (e.g. a known-weaker policy).
    await writeDirect(signed(signer, 3), 3)
    await withRelay(freshStateDir(), (policy) =>
      Effect.gen(function* () {
        yield* refusedBelowFloor(policy, 1)
        expect(Option.isNone(yield* policy.current)).toBe(true)
        expect(yield* policy.floor).toBe(5)
        const counted = yield* Metric.value(belowFloorMetric)
        expect(counted.count - before.count).toBe(1)
      }),
    )
  })

  it("keeps refusing after a Redis writer deletes or lowers the floor record (a relay's floor only rises)", async () => {
    await fleetAt5()
    await writeDirect(signed(signer, 3), 3)
    await withRelay(freshStateDir(), (policy) =>
      Effect.gen(function* () {
        yield* refusedBelowFloor(policy, 1)
        // Deleted, then lowered to a genuinely signed older bundle, each with another old bundle named.
        yield* Effect.promise(() => writeFloor(undefined))
        yield* Effect.promise(() => writeDirect(signed(signer, 4), 4))
        yield* refusedBelowFloor(policy, 2)
        yield* Effect.promise(() => writeFloor({ serial: "2", digest: digestIn(signed(signer, 2)) }))
        yield* Effect.promise(() => writeDirect(signed(signer, 2), 2))
        yield* refusedBelowFloor(policy, 3)
        expect(yield* policy.floor).toBe(5)
        expect(Option.isNone(yield* policy.current)).toBe(true)
        // The genuine next bundle still activates.
        yield* Effect.promise(() => publish(signed(signer, 6)))
        yield* Effect.promise(() =>
          eventually(async () => (await Effect.runPromise(serialOf(policy))) === 6, "serial 6"),
        )
      }),
    )
  })

  it("is not raised by a forged record that no signed bundle vouches for", async () => {
    await publish(signed(signer, 2))
    await writeFloor({ serial: "999", digest: "sha256:forged" })
    await withRelay(freshStateDir(), (policy) =>
      Effect.gen(function* () {
        expect(yield* serialOf(policy)).toBe(2)
        expect(yield* policy.floor).toBe(2)
      }),
    )
    // A real bundle's digest with a serial it does not carry.
    await writeFloor({ serial: "999", digest: digestIn(signed(signer, 2)) })
    await withRelay(freshStateDir(), (policy) => serialOf(policy).pipe(Effect.map((s) => expect(s).toBe(2))))
  })

  it("makes publish refuse a serial at or below the floor although the pointer was lowered", async () => {
    await fleetAt5()
    await writeDirect(signed(signer, 1), 1)
    const refused = await publish(signed(signer, 4))
    expect(Either.isLeft(refused) && refused.left).toMatchObject({
      _tag: "BundleBelowFloor",
      serial: 4,
      floor: 5,
    })
    const atFloor = await publish(signed(signer, 5))
    expect(Either.isLeft(atFloor) && atFloor.left._tag).toBe("BundleBelowFloor")
    // The rollback: the old policy re-signed under a new serial above the floor.
    const rollback = await publish(signed(signer, 7))
    expect(Either.isRight(rollback)).toBe(true)
    const history = await inStore(Effect.flatMap(PolicyStore, (store) => store.history(10)))
    expect(history.map((h) => h.serial)).toEqual([7, 5, 1])
    expect(history[0]!.digest).toBe(digestIn(signed(signer, 7)))
  })
})
