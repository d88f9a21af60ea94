import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ConfigProvider, Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { roleConfig } from "../src/smtp-config"

const dir = mkdtempSync(join(tmpdir(), "mc-smtp-config-"))
writeFileSync(join(dir, "relay.crt"), "cert")
writeFileSync(join(dir, "relay.key"), "key")
const tlsFiles = { RELAY_TLS_CERT: join(dir, "relay.crt"), RELAY_TLS_KEY: join(dir, "relay.key") }

const load = (env: Record<string, string>) =>
  Effect.runSync(
    Effect.either(roleConfig).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    ),
  )

describe("SMTP listener configuration", () => {
  it("starts no legacy-TLS listener unless its port is set", () => {
    const config = Either.getOrThrow(load({ ...tlsFiles, RELAY_SMTP_MX_PORT: "2525" }))
    expect(config.listeners.map((l) => l.kind)).toEqual(["mx"])
    expect(config.tls?.minVersion).toBe("TLSv1.2")
  })

  it("adds the legacy-TLS inbound MX on RELAY_SMTP_MX_LEGACY_PORT, the other listeners' floor unchanged", () => {
    const config = Either.getOrThrow(
      load({ ...tlsFiles, RELAY_SMTP_MX_PORT: "2525", RELAY_SMTP_MX_LEGACY_PORT: "2526" }),
    )
    expect(config.listeners).toEqual([
      { kind: "mx", host: "127.0.0.1", port: 2525, greetingDelayMs: 100 },
      { kind: "mx-legacy", host: "127.0.0.1", port: 2526, greetingDelayMs: 100 },
    ])
    expect(config.tls?.minVersion).toBe("TLSv1.2")
  })
})
