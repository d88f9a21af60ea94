/** `mailconnect fleet status`, run in-process against heartbeats in a real redis-server. */
import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { FleetRegistry, type RelayHeartbeat } from "@mailconnect/fleet"
import { fleetRegistryRedis } from "@mailconnect/test-support/vitest"
import { ConfigProvider, Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { fleetCommand } from "../src/commands/fleet"

const redis = fleetRegistryRedis()

const beat = (relayId: string, serial: number | null, draining = false) =>
  redis.run(
    Effect.flatMap(FleetRegistry, (f) =>
      f.beat(
        {
          relayId,
          version: "0.1.0",
          hostname: "h",
          pid: 1,
          roles: ["ingress", "delivery"],
          bundle: serial === null ? null : { serial, digest: `sha256:${serial}`, schema: 1 },
          supportedSchemas: [1],
          draining,
          startedAt: "2026-11-28T00:00:00.000Z",
          updatedAt: "2026-11-28T00:00:00.000Z",
        } satisfies RelayHeartbeat,
        "1 minute",
      ),
    ),
  )

const status = (args: ReadonlyArray<string>) =>
  Effect.runPromise(
    Command.run(fleetCommand, { name: "mailconnect", version: "test" })([
      "node",
      "mailconnect",
      "status",
      ...args,
    ]).pipe(
      Effect.withConfigProvider(
        ConfigProvider.fromMap(
          new Map([
            ["REDIS_URL", redis.url()],
            ["REDIS_PREFIX", redis.prefix],
          ]),
        ),
      ),
      Effect.provide(NodeContext.layer),
      Effect.either,
    ),
  )
const failure = (result: Either.Either<void, unknown>) =>
  Either.isLeft(result) ? (result.left as { code: number; message: string }) : undefined

describe("mailconnect fleet status", () => {
  it("fails --expect-serial when no relay is live", async () => {
    redis.prefix = "clifleet1"
    expect(failure(await status(["--expect-serial", "3"]))).toMatchObject({
      code: 1,
      message: expect.stringContaining("no live relays"),
    })
  })

  it("passes --expect-serial only when every live relay runs that serial", async () => {
    redis.prefix = "clifleet2"
    await beat("relay-a", 3)
    await beat("relay-b", 3, true)
    expect(Either.isRight(await status(["--expect-serial", "3"]))).toBe(true)
    expect(Either.isRight(await status(["--json"]))).toBe(true)
    await beat("relay-c", null)
    await beat("relay-d", 2)
    expect(failure(await status(["--expect-serial", "3"]))).toMatchObject({
      code: 1,
      message: "2 of 4 relay(s) not on serial 3: relay-c (none), relay-d (2)",
    })
    expect(Either.isRight(await status([]))).toBe(true)
  })
})
