/**
 * `mailconnect policy publish`, run in-process against a real redis-server: what it writes on
 * success and the exit-1 refusals with their messages.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { FleetRegistry } from "@mailconnect/fleet"
import { PolicyStore } from "@mailconnect/policy-store"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { freePort, type RedisServer, startRedis } from "@mailconnect/test-redis"
import { makeSigner, signed, tampered } from "@mailconnect/test-support"
import { ConfigProvider, Effect, Either, Layer, Option } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { publishCommand } from "../src/commands/policy-publish"
import { tempDir } from "./policy-cli"

let redis: RedisServer
let prefix = ""
const dir = tempDir("publish")
const signer = makeSigner()
const trustedKeyFile = join(dir, "signing.pub")
writeFileSync(trustedKeyFile, signer.publicPem)

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const redisLayer = () =>
  Layer.mergeAll(PolicyStore.layer, FleetRegistry.layer).pipe(
    Layer.provideMerge(RedisClient.layer),
    Layer.provide(RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redis.url, prefix)))),
  )
const withRedis = <A, E>(effect: Effect.Effect<A, E, PolicyStore | FleetRegistry | RedisClient>) =>
  Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(redisLayer())))

afterEach(() =>
  withRedis(
    Effect.gen(function* () {
      const client = yield* RedisClient
      yield* client.del(...((yield* client.call("KEYS", `{${prefix}}:*`)) as Array<string>))
    }),
  ),
)

let fileNumber = 0
const publish = (bytes: string, flags: ReadonlyArray<string> = [], env: Record<string, string> = {}) => {
  const file = join(dir, `bundle-${fileNumber++}.json`)
  writeFileSync(file, bytes)
  const config = ConfigProvider.fromMap(
    new Map(
      Object.entries({
        REDIS_URL: redis.url,
        REDIS_PREFIX: prefix,
        MAILCONNECT_TRUSTED_KEYS: trustedKeyFile,
        ...env,
      }),
    ),
  )
  return Effect.runPromise(
    Command.run(publishCommand, { name: "mailconnect", version: "test" })([
      "node",
      "mailconnect",
      "--bundle",
      file,
      ...flags,
    ]).pipe(Effect.withConfigProvider(config), Effect.provide(NodeContext.layer), Effect.either),
  )
}
const currentSerial = () =>
  withRedis(
    Effect.flatMap(PolicyStore, (s) => s.readCurrent).pipe(
      Effect.map(Option.map((p) => p.serial)),
      Effect.map(Option.getOrUndefined),
    ),
  )
const refusal = (result: Either.Either<void, unknown>) => {
  expect(Either.isLeft(result)).toBe(true)
  const error = Either.isLeft(result) ? (result.left as { code: number; message: string }) : undefined
  expect(error?.code).toBe(1)
  return error?.message ?? ""
}

describe("mailconnect policy publish", () => {
  it("publishes a verified bundle", async () => {
    prefix = "clipub1"
    expect(Either.isRight(await publish(signed(signer, 4)))).toBe(true)
    expect(await currentSerial()).toBe(4)
  })

  it("refuses tampered, foreign-key, rolled-back and fleet-unreadable bundles with exit 1", async () => {
    prefix = "clipub2"
    await publish(signed(signer, 4))
    await withRedis(
      Effect.flatMap(FleetRegistry, (f) =>
        f.beat(
          {
            relayId: "old-relay",
            version: "0.0.9",
            hostname: "h",
            pid: 1,
            roles: ["delivery"],
            bundle: null,
            supportedSchemas: [1],
            draining: false,
            startedAt: "2026-11-28T00:00:00.000Z",
            updatedAt: "2026-11-28T00:00:00.000Z",
          },
          "1 minute",
        ),
      ),
    )
    expect(refusal(await publish(tampered(signed(signer, 5))))).toContain("was altered after signing")
    expect(refusal(await publish(signed(makeSigner(), 5)))).toContain(
      "MAILCONNECT_TRUSTED_KEYS does not list",
    )
    expect(refusal(await publish(signed(signer, 3)))).toContain("serial 3 is not above the current serial 4")
    expect(refusal(await publish(signed(signer, 5, { schema: 2 })))).toContain(
      "bundle schema 2 cannot be read by live relay(s) old-relay",
    )
    expect(await currentSerial()).toBe(4)
    expect(Either.isRight(await publish(signed(signer, 5, { schema: 2 }), ["--force"]))).toBe(true)
    expect(await currentSerial()).toBe(5)
  })

  it("refuses a serial at or below the fleet floor even when the pointer was moved back", async () => {
    prefix = "clipub4"
    await publish(signed(signer, 8))
    await withRedis(
      Effect.gen(function* () {
        const store = yield* PolicyStore
        // A relay activated 8; then someone with Redis access moves the pointer back to 2.
        yield* store.raiseFloor({ serial: 8, digest: "sha256:x" })
        const client = yield* RedisClient
        yield* client.call("HSET", store.keys.current, "serial", 2)
      }),
    )
    expect(refusal(await publish(signed(signer, 6)))).toContain(
      "serial 6 is not above the fleet floor 8 (the highest serial a relay has activated",
    )
    expect(await currentSerial()).toBe(2)
    expect(Either.isRight(await publish(signed(signer, 9)))).toBe(true)
    expect(await currentSerial()).toBe(9)
  })

  it("refuses when the trusted keys or Redis are unusable", async () => {
    prefix = "clipub3"
    expect(
      refusal(await publish(signed(signer, 1), [], { MAILCONNECT_TRUSTED_KEYS: join(dir, "missing.pub") })),
    ).toContain("missing.pub")
    const nowhere = `redis://127.0.0.1:${await freePort()}`
    expect(refusal(await publish(signed(signer, 1), [], { REDIS_URL: nowhere }))).toContain(
      "Redis unavailable",
    )
    expect(refusal(await publish(signed(signer, 1), [], { REDIS_URL: "http://nope" }))).toContain("REDIS_URL")
  })
})
