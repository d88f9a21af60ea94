/**
 * Configuration of the relay's roles, from the environment (documented in `relay.env.sample`):
 * SMTP listeners and their TLS (role `ingress`) and delivery workers (role `delivery`).
 * A listener whose port is unset is not started. Certificate and key are files; their contents
 * are never logged.
 */
import { readFileSync } from "node:fs"
import { hostname } from "node:os"
import { TLS_VERSION_ORDER, type TlsVersion } from "@mailconnect/policy"
import type { ClientLimitsConfig, ListenerConfig } from "@mailconnect/smtp-inbound"
import { Config, ConfigError, Context, Duration, Either, Layer, Option } from "effect"
import { duration } from "./config"

export interface RoleConfigShape {
  /** Our host name: SMTP banner, Received headers, EHLO, DSN Reporting-MTA. */
  readonly hostname: string
  readonly listeners: ReadonlyArray<ListenerConfig>
  /** PEM contents, read at start (a renewed certificate needs a restart: rolling, one relay at a time). */
  readonly tls: { readonly cert: string; readonly key: string; readonly minVersion: TlsVersion } | undefined
  readonly usersFile: string | undefined
  readonly maxMessageBytes: number
  /** Bytes of message bodies the listeners may hold at once; beyond: 452 4.3.1. */
  readonly maxBufferedBytes: number
  readonly maxRecipients: number
  readonly maxClients: number
  readonly smtpTimeoutMs: number
  /** NOOP, RSET, VRFY, HELP a session may send between two messages (RELAY_SMTP_JUNK_COMMAND_LIMIT). */
  readonly junkCommandLimit: number
  /** Per-address limits of each listener (RELAY_SMTP_MAX_CLIENTS_PER_ADDRESS, RELAY_SMTP_CONNECTION_RATE,
   * RELAY_SMTP_MESSAGE_RATE, RELAY_SMTP_RECIPIENT_RATE). */
  readonly perAddress: ClientLimitsConfig
  /** Successful logins remembered per process (RELAY_AUTH_CACHE_SIZE, RELAY_AUTH_CACHE_TTL). */
  readonly authCache: { readonly maxEntries: number; readonly ttlMs: number }
  readonly drainTimeoutMs: number
  readonly deliveryConcurrency: number
  readonly jobLockMs: number
  readonly destinationConcurrency: number
  readonly breakerThreshold: number
  readonly breakerCooldownMs: number
  /** Port used for MX hosts (25; tests and the local stack use others). */
  readonly mxPort: number
  /** Replicas that must hold a message before the 250 (Redis WAIT); 0 = master only. */
  readonly waitReplicas: number
  readonly waitReplicasTimeoutMs: number
}

const ms = (name: string, fallback: string) => duration(name, fallback).pipe(Config.map(Duration.toMillis))

const file = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail((path) => {
      if (Option.isNone(path)) return Either.right(undefined)
      try {
        return Either.right(readFileSync(path.value, "utf8"))
      } catch (e) {
        return Either.left(
          ConfigError.InvalidData([name], `cannot read ${path.value}: ${(e as Error).message}`),
        )
      }
    }),
  )

const port = (name: string) => Config.option(Config.port(name)).pipe(Config.map(Option.getOrUndefined))

const minVersion = Config.string("RELAY_TLS_MIN_VERSION").pipe(
  Config.withDefault("TLSv1.2"),
  Config.mapOrFail((v) =>
    (TLS_VERSION_ORDER as ReadonlyArray<string>).includes(v)
      ? Either.right(v as TlsVersion)
      : Either.left(
          ConfigError.InvalidData(
            ["RELAY_TLS_MIN_VERSION"],
            `expected one of ${TLS_VERSION_ORDER.join(", ")}`,
          ),
        ),
  ),
)

export const roleConfig: Config.Config<RoleConfigShape> = Config.all({
  hostname: Config.string("RELAY_HOSTNAME").pipe(Config.withDefault(hostname())),
  smtpHost: Config.string("RELAY_SMTP_HOST").pipe(Config.withDefault("127.0.0.1")),
  submission: port("RELAY_SMTP_SUBMISSION_PORT"),
  submissions: port("RELAY_SMTP_SUBMISSIONS_PORT"),
  mx: port("RELAY_SMTP_MX_PORT"),
  mxLegacy: port("RELAY_SMTP_MX_LEGACY_PORT"),
  cert: file("RELAY_TLS_CERT"),
  key: file("RELAY_TLS_KEY"),
  minVersion,
  usersFile: Config.option(Config.string("RELAY_USERS_FILE")).pipe(Config.map(Option.getOrUndefined)),
  maxMessageBytes: Config.integer("RELAY_MAX_MESSAGE_SIZE").pipe(Config.withDefault(25 * 1024 * 1024)),
  maxBufferedBytes: Config.integer("RELAY_DATA_MEMORY_BUDGET").pipe(Config.withDefault(512 * 1024 * 1024)),
  maxRecipients: Config.integer("RELAY_MAX_RECIPIENTS").pipe(Config.withDefault(100)),
  maxClients: Config.integer("RELAY_SMTP_MAX_CLIENTS").pipe(Config.withDefault(1000)),
  smtpTimeoutMs: ms("RELAY_SMTP_TIMEOUT", "5m"),
  // Postfix's smtpd_junk_command_limit default; our own outbound sends one RSET per reused message.
  junkCommandLimit: Config.integer("RELAY_SMTP_JUNK_COMMAND_LIMIT").pipe(Config.withDefault(100)),
  // Early-talker detection on inbound MX; on submission it would only slow every connection.
  mxGreetingDelayMs: ms("RELAY_SMTP_MX_GREETING_DELAY", "100ms"),
  submissionGreetingDelayMs: ms("RELAY_SMTP_SUBMISSION_GREETING_DELAY", "0ms"),
  // Per client address and listener (Postfix anvil): sessions open at once, new sessions a minute.
  maxClientsPerAddress: Config.integer("RELAY_SMTP_MAX_CLIENTS_PER_ADDRESS").pipe(Config.withDefault(50)),
  connectionsPerMinutePerAddress: Config.integer("RELAY_SMTP_CONNECTION_RATE").pipe(Config.withDefault(0)),
  messagesPerMinutePerAddress: Config.integer("RELAY_SMTP_MESSAGE_RATE").pipe(Config.withDefault(0)),
  recipientsPerMinutePerAddress: Config.integer("RELAY_SMTP_RECIPIENT_RATE").pipe(Config.withDefault(0)),
  // Successful logins remembered per process (0 entries: every login runs scrypt).
  authCacheEntries: Config.integer("RELAY_AUTH_CACHE_SIZE").pipe(Config.withDefault(10_000)),
  authCacheTtlMs: ms("RELAY_AUTH_CACHE_TTL", "15m"),
  drainTimeoutMs: ms("RELAY_DRAIN_TIMEOUT", "30s"),
  deliveryConcurrency: Config.integer("RELAY_DELIVERY_CONCURRENCY").pipe(Config.withDefault(20)),
  jobLockMs: ms("RELAY_JOB_LOCK_DURATION", "30s"),
  destinationConcurrency: Config.integer("RELAY_DESTINATION_CONCURRENCY").pipe(Config.withDefault(10)),
  breakerThreshold: Config.integer("RELAY_BREAKER_THRESHOLD").pipe(Config.withDefault(5)),
  breakerCooldownMs: ms("RELAY_BREAKER_COOLDOWN", "1m"),
  mxPort: Config.port("RELAY_MX_PORT").pipe(Config.withDefault(25)),
  waitReplicas: Config.integer("RELAY_REDIS_WAIT_REPLICAS").pipe(Config.withDefault(0)),
  waitReplicasTimeoutMs: ms("RELAY_REDIS_WAIT_TIMEOUT", "1s"),
}).pipe(
  Config.mapOrFail((c) => {
    const listeners: Array<ListenerConfig> = []
    if (c.submission !== undefined)
      listeners.push({
        kind: "submission",
        host: c.smtpHost,
        port: c.submission,
        greetingDelayMs: c.submissionGreetingDelayMs,
      })
    if (c.submissions !== undefined)
      listeners.push({
        kind: "submissions",
        host: c.smtpHost,
        port: c.submissions,
        greetingDelayMs: c.submissionGreetingDelayMs,
      })
    if (c.mx !== undefined)
      listeners.push({ kind: "mx", host: c.smtpHost, port: c.mx, greetingDelayMs: c.mxGreetingDelayMs })
    // Off unless set: inbound MX down to TLS 1.0, for partners whose agreement grants legacyTls only.
    if (c.mxLegacy !== undefined)
      listeners.push({
        kind: "mx-legacy",
        host: c.smtpHost,
        port: c.mxLegacy,
        greetingDelayMs: c.mxGreetingDelayMs,
      })
    if (listeners.length > 0 && (c.cert === undefined || c.key === undefined))
      return Either.left(
        ConfigError.InvalidData(
          ["RELAY_TLS_CERT"],
          "SMTP listeners need RELAY_TLS_CERT and RELAY_TLS_KEY (TLS is never optional)",
        ),
      )
    return Either.right({
      hostname: c.hostname,
      listeners,
      tls:
        c.cert !== undefined && c.key !== undefined
          ? { cert: c.cert, key: c.key, minVersion: c.minVersion }
          : undefined,
      usersFile: c.usersFile,
      maxMessageBytes: c.maxMessageBytes,
      maxBufferedBytes: c.maxBufferedBytes,
      maxRecipients: c.maxRecipients,
      maxClients: c.maxClients,
      authCache: { maxEntries: c.authCacheEntries, ttlMs: c.authCacheTtlMs },
      perAddress: {
        maxConcurrent: c.maxClientsPerAddress,
        maxPerMinute: c.connectionsPerMinutePerAddress,
        messagesPerMinute: c.messagesPerMinutePerAddress,
        recipientsPerMinute: c.recipientsPerMinutePerAddress,
      },
      smtpTimeoutMs: c.smtpTimeoutMs,
      junkCommandLimit: c.junkCommandLimit,
      drainTimeoutMs: c.drainTimeoutMs,
      deliveryConcurrency: c.deliveryConcurrency,
      jobLockMs: c.jobLockMs,
      destinationConcurrency: c.destinationConcurrency,
      breakerThreshold: c.breakerThreshold,
      breakerCooldownMs: c.breakerCooldownMs,
      mxPort: c.mxPort,
      waitReplicas: c.waitReplicas,
      waitReplicasTimeoutMs: c.waitReplicasTimeoutMs,
    })
  }),
)

export class RoleConfig extends Context.Tag("@mailconnect/relay/RoleConfig")<RoleConfig, RoleConfigShape>() {
  static layer = Layer.effect(this, roleConfig)
}
