import type { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { digestIn, makeSigner, signed, tampered } from "@mailconnect/test-support"
import { Effect, Either, Option, Stream } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { PolicyStore, type PublishRequest, publishBundle } from "../src"
import { cleanPrefix, storeLayer, uniquePrefix } from "./support/harness"

let redis: RedisServer
let prefix: string
const signer = makeSigner()
const reader = { relayId: "relay-a", supportedSchemas: [1] }

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())
afterEach(() => cleanPrefix(redis.url, prefix))

const run = <A, E>(effect: Effect.Effect<A, E, PolicyStore | RedisClient>) => {
  prefix = prefix ?? uniquePrefix()
  return Effect.runPromise(
    Effect.either(effect).pipe(Effect.scoped, Effect.provide(storeLayer(redis.url, prefix))),
  )
}
const request = (bytes: string, overrides: Partial<PublishRequest> = {}): PublishRequest => ({
  bytes,
  trusted: [signer.trusted],
  readers: [reader],
  force: false,
  ...overrides,
})

describe("publishBundle", () => {
  it("stores the bytes by digest, swaps the pointer and announces", async () => {
    prefix = uniquePrefix()
    const bytes = signed(signer, 7)
    const result = await run(
      Effect.gen(function* () {
        const store = yield* PolicyStore
        const notice = yield* store.announcements.pipe(Stream.take(1), Stream.runDrain, Effect.fork)
        // Give the subscriber connection time to subscribe before publishing.
        yield* Effect.sleep("200 millis")
        const published = yield* publishBundle(request(bytes))
        yield* notice.await
        return {
          published,
          pointer: yield* store.readCurrent,
          stored: yield* store.readBundle(digestIn(bytes)),
        }
      }),
    )
    const { published, pointer, stored } = Either.getOrThrow(result)
    expect(published.serial).toBe(7)
    expect(published.announcedTo).toBe(1)
    expect(Option.isNone(published.previousSerial)).toBe(true)
    expect(Option.getOrThrow(pointer)).toMatchObject({ serial: 7, digest: digestIn(bytes), schema: 1 })
    expect(Option.getOrThrow(stored)).toBe(bytes)
  })

  const refusals: ReadonlyArray<[string, () => string, Partial<PublishRequest>, string]> = [
    ["a tampered bundle", () => tampered(signed(signer, 9)), {}, "BundleDigestMismatch"],
    ["a bundle signed by an unknown key", () => signed(makeSigner(), 9), {}, "BundleUnknownKey"],
    ["a lower serial", () => signed(signer, 4), {}, "BundleSerialNotAbove"],
    ["the same serial again", () => signed(signer, 5, { partnerMode: "mtls" }), {}, "BundleSerialNotAbove"],
    [
      "a schema a live relay cannot read",
      () => signed(signer, 9, { schema: 2 }),
      {},
      "FleetCannotReadSchema",
    ],
    ["garbage", () => "not a bundle", {}, "BundleMalformed"],
  ]
  for (const [what, bytes, overrides, tag] of refusals) {
    it(`refuses ${what} and leaves the current bundle`, async () => {
      prefix = uniquePrefix()
      const result = await run(
        Effect.gen(function* () {
          const store = yield* PolicyStore
          yield* publishBundle(request(signed(signer, 5)))
          const refused = yield* Effect.flip(publishBundle(request(bytes(), overrides)))
          return { refused, pointer: yield* store.readCurrent }
        }),
      )
      const { refused, pointer } = Either.getOrThrow(result)
      expect(refused._tag).toBe(tag)
      expect(Option.getOrThrow(pointer).serial).toBe(5)
    })
  }

  it("publishes an unreadable schema with force", async () => {
    prefix = uniquePrefix()
    const result = await run(publishBundle(request(signed(signer, 9, { schema: 2 }), { force: true })))
    expect(Either.getOrThrow(result)).toMatchObject({ serial: 9, schema: 2 })
  })

  it("never moves the pointer backwards under concurrent publishers", async () => {
    prefix = uniquePrefix()
    const serials = [3, 8, 5, 2, 7, 6, 4, 1]
    const result = await run(
      Effect.gen(function* () {
        const outcomes = yield* Effect.forEach(
          serials,
          (s) => Effect.either(publishBundle(request(signed(signer, s)))),
          {
            concurrency: "unbounded",
          },
        )
        const store = yield* PolicyStore
        return { outcomes, pointer: yield* store.readCurrent }
      }),
    )
    const { outcomes, pointer } = Either.getOrThrow(result)
    expect(Option.getOrThrow(pointer).serial).toBe(8)
    expect(outcomes.some(Either.isRight)).toBe(true)
  })
})
