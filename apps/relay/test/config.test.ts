import { ConfigProvider, Duration, Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { relayConfig } from "../src/config"

const load = (env: Record<string, string>) =>
  Effect.runSync(
    Effect.either(relayConfig).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    ),
  )

const base = { MAILCONNECT_TRUSTED_KEYS: "/keys/a.pub, /keys/b.pub" }

describe("relay configuration", () => {
  it("applies the documented defaults", () => {
    const config = Either.getOrThrow(load(base))
    expect(config.roles).toEqual(["ingress", "delivery"])
    expect(config.http).toEqual({ host: "127.0.0.1", port: 9580 })
    expect(config.trustedKeyFiles).toEqual(["/keys/a.pub", "/keys/b.pub"])
    expect(Duration.toMillis(config.policyPollInterval)).toBe(5_000)
    expect(Duration.toMillis(config.heartbeatTtl)).toBe(15_000)
    expect(Duration.toMillis(config.drainDelay)).toBe(0)
    expect(config.relayId).toMatch(/-\d+$/)
  })

  it("reads roles, ports and operator-style durations", () => {
    const config = Either.getOrThrow(
      load({
        ...base,
        RELAY_ID: "relay-7",
        RELAY_ROLES: "delivery",
        RELAY_HTTP_PORT: "9999",
        RELAY_POLICY_POLL_INTERVAL: "250ms",
        RELAY_DRAIN_DELAY: "1m",
      }),
    )
    expect(config).toMatchObject({ relayId: "relay-7", roles: ["delivery"], http: { port: 9999 } })
    expect(Duration.toMillis(config.policyPollInterval)).toBe(250)
    expect(Duration.toMillis(config.drainDelay)).toBe(60_000)
  })

  it("refuses unknown roles, bad durations and a missing key list", () => {
    expect(Either.isLeft(load({ ...base, RELAY_ROLES: "ingress,mx" }))).toBe(true)
    expect(Either.isLeft(load({ ...base, RELAY_ROLES: "" }))).toBe(true)
    expect(Either.isLeft(load({ ...base, RELAY_HEARTBEAT_TTL: "15 seconds" }))).toBe(true)
    expect(Either.isLeft(load({}))).toBe(true)
  })
})
