/**
 * Relay configuration, read once from the environment with Effect `Config` (every variable is
 * documented in `relay.env.sample`). Durations take `500ms`, `5s`, `1m`….
 */
import { hostname } from "node:os"
import type { RelayRole } from "@mailconnect/fleet"
import { parseDuration } from "@mailconnect/policy"
import { trustedKeyFilesConfig } from "@mailconnect/policy-store"
import { Config, ConfigError, Context, Duration, Either, Layer } from "effect"

export interface RelayConfigShape {
  readonly relayId: string
  readonly roles: ReadonlyArray<RelayRole>
  readonly http: { readonly host: string; readonly port: number }
  /** Holds the last-known-good bundle copy; must survive restarts. */
  readonly stateDir: string
  readonly trustedKeyFiles: ReadonlyArray<string>
  readonly policyPollInterval: Duration.Duration
  readonly policyStartTimeout: Duration.Duration
  readonly heartbeatInterval: Duration.Duration
  readonly heartbeatTtl: Duration.Duration
  /** After SIGTERM, how long readiness stays false before listeners stop (load balancers notice). */
  readonly drainDelay: Duration.Duration
}

/** A duration variable (`500ms`, `5s`, `1m`…, see `parseDuration`) with its default. */
export const duration = (name: string, fallback: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => {
      const ms = parseDuration(text)
      return ms === undefined
        ? Either.left(
            ConfigError.InvalidData([name], `expected a duration like 500ms, 5s or 1m, got ${text}`),
          )
        : Either.right(Duration.millis(ms))
    }),
  )

const ROLES: ReadonlyArray<RelayRole> = ["ingress", "delivery"]

const roles = Config.string("RELAY_ROLES").pipe(
  Config.withDefault("ingress,delivery"),
  Config.mapOrFail((text) => {
    const list = [
      ...new Set(
        text
          .split(",")
          .map((r) => r.trim())
          .filter((r) => r !== ""),
      ),
    ]
    const unknown = list.filter((r) => !ROLES.includes(r as RelayRole))
    return unknown.length > 0 || list.length === 0
      ? Either.left(
          ConfigError.InvalidData(
            ["RELAY_ROLES"],
            `expected a comma-separated subset of ${ROLES.join(",")}, got ${text}`,
          ),
        )
      : Either.right(list as ReadonlyArray<RelayRole>)
  }),
)

export const relayConfig: Config.Config<RelayConfigShape> = Config.all({
  relayId: Config.string("RELAY_ID").pipe(Config.withDefault(`${hostname()}-${process.pid}`)),
  roles,
  http: Config.all({
    host: Config.string("RELAY_HTTP_HOST").pipe(Config.withDefault("127.0.0.1")),
    port: Config.port("RELAY_HTTP_PORT").pipe(Config.withDefault(9580)),
  }),
  stateDir: Config.string("RELAY_STATE_DIR").pipe(Config.withDefault(".local/relay-state")),
  trustedKeyFiles: trustedKeyFilesConfig,
  policyPollInterval: duration("RELAY_POLICY_POLL_INTERVAL", "5s"),
  policyStartTimeout: duration("RELAY_POLICY_START_TIMEOUT", "3s"),
  heartbeatInterval: duration("RELAY_HEARTBEAT_INTERVAL", "5s"),
  heartbeatTtl: duration("RELAY_HEARTBEAT_TTL", "15s"),
  drainDelay: duration("RELAY_DRAIN_DELAY", "0s"),
})

export class RelayConfig extends Context.Tag("@mailconnect/RelayConfig")<RelayConfig, RelayConfigShape>() {
  static layer = Layer.effect(this, relayConfig)
}
