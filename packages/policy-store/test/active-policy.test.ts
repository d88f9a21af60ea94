import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PolicyView } from "@mailconnect/policy"
import { RedisClient } from "@mailconnect/redis-client"
import { freePort, type RedisServer, startRedis } from "@mailconnect/test-redis"
import { digestIn, eventually, makeSigner, signed, tampered } from "@mailconnect/test-support"
import { type Duration, Effect, Fiber, Layer, Metric, Option, Stream } from "effect"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  ActivePolicy,
  LAST_KNOWN_GOOD_FILE,
  PolicyMetrics,
  PolicyStore,
  PolicyViewFromActivePolicy,
  publishBundle,
} from "../src"
import { activeLayer, cleanPrefix, storeLayer, uniquePrefix } from "./support/harness"

let redis: RedisServer
let prefix: string
let stateDir: string
const signer = makeSigner()

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())
beforeEach(() => {
  prefix = uniquePrefix()
  stateDir = mkdtempSync(join(tmpdir(), "mc-lkg-"))
})
afterEach(async () => {
  await cleanPrefix(redis.url, prefix)
  rmSync(stateDir, { recursive: true, force: true })
})

const publish = (bytes: string) =>
  Effect.runPromise(
    publishBundle({ bytes, trusted: [signer.trusted], readers: [], force: true }).pipe(
      Effect.scoped,
      Effect.provide(storeLayer(redis.url, prefix)),
    ),
  )

/** Writes bytes and the pointer straight into Redis, bypassing every publish-side check. */
const writeDirect = (bytes: string, serial: number, options: { announce?: boolean; schema?: number } = {}) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const redis = yield* RedisClient
      const store = yield* PolicyStore
      const digest = digestIn(bytes)
      yield* redis.set(store.keys.bundle(digest), bytes)
      yield* redis.call(
        "HSET",
        store.keys.current,
        "serial",
        serial,
        "digest",
        digest,
        "schema",
        options.schema ?? 1,
        "publishedAt",
        "x",
      )
      if (options.announce ?? true) yield* redis.publish(store.keys.channel, "{}")
    }).pipe(Effect.scoped, Effect.provide(storeLayer(redis.url, prefix))),
  )

/** Runs `body` with a live ActivePolicy over the test prefix and state directory. */
const withRelay = <A>(
  body: (policy: typeof ActivePolicy.Service) => Effect.Effect<A, unknown>,
  options: { url?: string; pollInterval?: Duration.DurationInput } = {},
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const policy = yield* ActivePolicy
      return yield* body(policy)
    }).pipe(
      Effect.scoped,
      Effect.provide(
        activeLayer(options.url ?? redis.url, prefix, stateDir, [signer.trusted], {
          pollInterval: options.pollInterval ?? "30 seconds",
        }) as Layer.Layer<ActivePolicy>,
      ),
    ),
  )

const serialOf = (policy: typeof ActivePolicy.Service) =>
  policy.current.pipe(Effect.map(Option.match({ onNone: () => 0, onSome: (b) => b.serial })))

const waitFor = (policy: typeof ActivePolicy.Service, serial: number) =>
  Effect.promise(() =>
    eventually(async () => (await Effect.runPromise(serialOf(policy))) === serial, `serial ${serial}`),
  )

describe("ActivePolicy", () => {
  it("loads the current bundle at start and hot-loads a newer one on notice", async () => {
    await publish(signed(signer, 1))
    await withRelay((policy) =>
      Effect.gen(function* () {
        expect(yield* serialOf(policy)).toBe(1)
        const seen = yield* policy.changes.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
        yield* Effect.sleep("200 millis")
        yield* Effect.promise(() => publish(signed(signer, 2, { partnerMode: "mtls" })))
        yield* waitFor(policy, 2)
        const active = Option.getOrThrow(yield* policy.current)
        expect(active.lookup.partnerFor("bank.example")?.tls.mode).toBe("mtls")
        expect(active.origin).toBe("redis")
        expect([...(yield* Fiber.join(seen))].map((b) => b.serial)).toEqual([1, 2])
      }),
    )
  })

  it("refuses bad bytes written straight into Redis and keeps the running bundle", async () => {
    await publish(signed(signer, 5))
    const stranger = makeSigner()
    await withRelay((policy) =>
      Effect.gen(function* () {
        const cases: ReadonlyArray<[string, number, string]> = [
          [tampered(signed(signer, 6)), 6, "BundleDigestMismatch"],
          [signed(stranger, 7), 7, "BundleUnknownKey"],
          [signed(signer, 4), 8, "BundleSerialNotAbove"],
          [signed(signer, 9, { schema: 2 }), 9, "BundleSchemaUnsupported"],
        ]
        for (const [bytes, pointerSerial, reason] of cases) {
          yield* Effect.promise(() => writeDirect(bytes, pointerSerial))
          yield* Effect.promise(() =>
            eventually(async () => (await Effect.runPromise(policy.rejectCounts))[reason] === 1, reason),
          )
          expect(yield* serialOf(policy)).toBe(5)
        }
        // A refused digest is not re-counted on the next poll.
        yield* policy.refresh
        expect(yield* policy.rejectCounts).toEqual({
          BundleDigestMismatch: 1,
          BundleUnknownKey: 1,
          BundleSerialNotAbove: 1,
          BundleSchemaUnsupported: 1,
        })
        const counted = yield* Metric.value(
          Metric.tagged(
            Metric.tagged(PolicyMetrics.rejects, "reason", "BundleUnknownKey"),
            "origin",
            "redis",
          ),
        )
        expect(counted.count).toBeGreaterThanOrEqual(1)
        // A good bundle after the bad ones still activates.
        yield* Effect.promise(() => publish(signed(signer, 10)))
        yield* waitFor(policy, 10)
      }),
    )
  })

  it("converges by polling when no notice arrives", async () => {
    await withRelay(
      (policy) =>
        Effect.gen(function* () {
          expect(Option.isNone(yield* policy.current)).toBe(true)
          yield* Effect.promise(() => writeDirect(signed(signer, 3), 3, { announce: false }))
          yield* waitFor(policy, 3)
        }),
      { pollInterval: "100 millis" },
    )
  })

  it("gives the policy view's latest read the store's newer bundle at once, without notice or poll, and never a forged one", async () => {
    await publish(signed(signer, 3))
    await withRelay((policy) =>
      Effect.gen(function* () {
        const view = yield* PolicyView.pipe(
          Effect.provide(PolicyViewFromActivePolicy.pipe(Layer.provide(Layer.succeed(ActivePolicy, policy)))),
        )
        yield* Effect.promise(() => writeDirect(signed(signer, 4), 4, { announce: false }))
        expect((yield* view.current)?.serial).toBe(3)
        expect((yield* view.latest)?.serial).toBe(4)
        expect((yield* view.current)?.serial).toBe(4)
        // A Redis writer's forgery under a higher serial: latest keeps the verified bundle.
        yield* Effect.promise(() => writeDirect(tampered(signed(signer, 5)), 5, { announce: false }))
        expect((yield* view.latest)?.serial).toBe(4)
        expect((yield* policy.rejectCounts).BundleDigestMismatch).toBe(1)
      }),
    )
  })

  it("keeps a last-known-good copy and starts from it while Redis is down", async () => {
    const bytes = signed(signer, 11)
    await publish(bytes)
    await withRelay((policy) => waitFor(policy, 11))
    expect(readFileSync(join(stateDir, LAST_KNOWN_GOOD_FILE), "utf8")).toBe(bytes)
    const nowhere = `redis://127.0.0.1:${await freePort()}`
    await withRelay(
      (policy) =>
        Effect.gen(function* () {
          const active = Option.getOrThrow(yield* policy.current)
          expect(active.serial).toBe(11)
          expect(active.origin).toBe("last-known-good")
          expect((yield* policy.refresh)._tag).toBe("Unavailable")
        }),
      { url: nowhere },
    )
  })

  it("prefers a newer last-known-good copy over an older bundle in Redis (anti-rollback)", async () => {
    writeFileSync(join(stateDir, LAST_KNOWN_GOOD_FILE), signed(signer, 20))
    await writeDirect(signed(signer, 19), 19, { announce: false })
    await withRelay((policy) =>
      Effect.gen(function* () {
        expect(yield* serialOf(policy)).toBe(20)
        expect((yield* policy.rejectCounts).BundleSerialNotAbove).toBe(1)
      }),
    )
  })

  it("ignores a bad last-known-good copy and loads from Redis", async () => {
    writeFileSync(join(stateDir, LAST_KNOWN_GOOD_FILE), tampered(signed(signer, 30)))
    await publish(signed(signer, 2))
    await withRelay((policy) =>
      Effect.gen(function* () {
        expect(yield* serialOf(policy)).toBe(2)
        expect((yield* policy.rejectCounts).BundleDigestMismatch).toBe(1)
      }),
    )
  })

  it("survives a failing last-known-good write (counted, bundle still active)", async () => {
    // A regular file where the state directory should be: every write fails.
    rmSync(stateDir, { recursive: true, force: true })
    writeFileSync(stateDir, "not a directory")
    const failures = () => Effect.runSync(Metric.value(PolicyMetrics.lastKnownGoodWriteFailures)).count
    const initial = failures()
    await publish(signed(signer, 40))
    await withRelay((policy) => waitFor(policy, 40))
    expect(failures()).toBe(initial + 1)
  })
})
