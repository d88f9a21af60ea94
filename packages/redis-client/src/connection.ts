/**
 * Connection factory: the one place that constructs ioredis clients. Each call opens a new scoped
 * connection for one purpose (commands, a subscriber, a BullMQ worker…) from the shared parsed
 * config, and closes it when the scope closes.
 *
 * Trusts: the Redis endpoint named by `REDIS_URL`. Touches: network connections to it only.
 */
import { Context, Effect, Layer, Runtime, type Scope } from "effect"
import { Cluster, Redis, type RedisOptions } from "ioredis"
import { type RedisConnectionConfig, redact, redisConnectionConfig } from "./config"
import { makeKeys, type RedisKeys } from "./keys"

/** An ioredis client (standalone/Sentinel) or cluster client; only adapters may hold one. */
export type RedisConnection = Redis | Cluster

export interface ConnectionOptions {
  /** Shown in `CLIENT LIST` (`mc:<purpose>`) and in logs. */
  readonly purpose: string
  /** ioredis default 20; BullMQ requires `null`. */
  readonly maxRetriesPerRequest?: number | null
  /** Fail a command that got no reply in this time; leave unset for blocking commands. */
  readonly commandTimeoutMs?: number
  /** Queue commands while disconnected (default true). */
  readonly enableOfflineQueue?: boolean
  /**
   * Send commands issued in the same event-loop tick in one write (ioredis auto-pipelining):
   * fewer syscalls on busy paths such as the spool. Not for blocking commands.
   */
  readonly autoPipelining?: boolean
}

/** Reconnect quickly at first, then every 2 s: Redis outages should heal without a restart. */
const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2_000)

export const ioredisOptions = (config: RedisConnectionConfig, options: ConnectionOptions): RedisOptions => {
  const t = config.topology
  const base: RedisOptions = {
    connectionName: `mc:${options.purpose}`,
    retryStrategy,
    connectTimeout: 5_000,
    ...(t.username === undefined ? {} : { username: t.username }),
    ...(t.password === undefined ? {} : { password: t.password }),
    ...(options.maxRetriesPerRequest === undefined
      ? {}
      : { maxRetriesPerRequest: options.maxRetriesPerRequest }),
    ...(options.commandTimeoutMs === undefined ? {} : { commandTimeout: options.commandTimeoutMs }),
    ...(options.enableOfflineQueue === undefined ? {} : { enableOfflineQueue: options.enableOfflineQueue }),
    ...(options.autoPipelining ? { enableAutoPipelining: true } : {}),
  }
  switch (t._tag) {
    case "Standalone":
      return { ...base, host: t.node.host, port: t.node.port, db: t.db, ...(t.tls ? { tls: {} } : {}) }
    case "Sentinel":
      return {
        ...base,
        sentinels: t.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: t.masterName,
        db: t.db,
        ...(t.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
      }
    case "Cluster":
      return { ...base, ...(t.tls ? { tls: {} } : {}) }
  }
}

const construct = (config: RedisConnectionConfig, options: ConnectionOptions): RedisConnection => {
  const redisOptions = ioredisOptions(config, options)
  if (config.topology._tag !== "Cluster") return new Redis(redisOptions)
  const { retryStrategy: _r, maxRetriesPerRequest, ...nodeOptions } = redisOptions
  return new Cluster(
    config.topology.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      redisOptions: nodeOptions,
      clusterRetryStrategy: retryStrategy,
      ...(maxRetriesPerRequest === undefined ? {} : { maxRetriesPerRequest }),
    },
  )
}

export interface RedisConnectionFactoryShape {
  readonly config: RedisConnectionConfig
  readonly keys: RedisKeys
  /**
   * Opens a connection; never fails when Redis is down (ioredis keeps reconnecting, commands
   * fail or wait per the options). Closed with QUIT (then disconnect) when the scope closes.
   */
  readonly connect: (options: ConnectionOptions) => Effect.Effect<RedisConnection, never, Scope.Scope>
}

export class RedisConnectionFactory extends Context.Tag("@mailconnect/RedisConnectionFactory")<
  RedisConnectionFactory,
  RedisConnectionFactoryShape
>() {
  static make = (config: RedisConnectionConfig): Effect.Effect<RedisConnectionFactoryShape> =>
    Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      const log = Runtime.runFork(runtime)
      const connect = (options: ConnectionOptions) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const connection = construct(config, options)
            let healthy = true
            // Errors surface on the commands as tagged errors; the event only feeds the log,
            // once per outage rather than once per reconnect attempt.
            connection.on("error", (error: Error) => {
              if (!healthy) return
              healthy = false
              log(
                Effect.logWarning(`redis ${options.purpose}: connection lost`).pipe(
                  Effect.annotateLogs({ redis: redact(config.url), error: error.message }),
                ),
              )
            })
            connection.on("ready", () => {
              if (healthy) return
              healthy = true
              log(Effect.logInfo(`redis ${options.purpose}: reconnected`))
            })
            return connection
          }),
          (connection) =>
            Effect.promise(() =>
              connection.status === "ready"
                ? connection.quit().then(
                    () => undefined,
                    () => connection.disconnect(),
                  )
                : Promise.resolve(connection.disconnect()),
            ).pipe(
              // Finalizers are uninterruptible; let the timeout cut a QUIT that gets no reply.
              Effect.interruptible,
              Effect.timeoutTo({
                duration: "2 seconds",
                onTimeout: () => connection.disconnect(),
                onSuccess: () => undefined,
              }),
            ),
        )
      return { config, keys: makeKeys(config.prefix), connect }
    })

  static layerFrom = (config: RedisConnectionConfig) => Layer.effect(this, this.make(config))

  /** From `REDIS_URL` / `REDIS_PREFIX`. */
  static layer = Layer.effect(this, Effect.flatMap(redisConnectionConfig, this.make))
}
