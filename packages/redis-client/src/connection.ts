/**
 * Connection factory: the one place that constructs ioredis clients. Each call opens a new scoped
 * connection for one purpose (commands, a subscriber, a BullMQ worker…) from the shared parsed
 * config, and closes it when the scope closes.
 *
 * Trusts: the Redis endpoint named by `REDIS_URL`. Touches: network connections to it only.
 */
import { Context, Duration, Effect, Layer, Runtime, type Scope } from "effect"
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
    // CLIENT SETINFO is refused by Redis before 7.2: two errors per connection in INFO errorstats,
    // where an operator looks for real ones. The connection name already says who we are.
    disableClientInfo: true,
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
  // No auto-pipelining on a Cluster, even when asked: ioredis 5.9's Cluster auto-pipeline files an
  // EVAL/EVALSHA under the slot of its first argument (the script, not a key), and the batch is then
  // refused ("All keys in the pipeline should belong to the same slots allocation group"). Lifted
  // to the Cluster client, the option failed a 3-master bench's scripts by the thousand (~400 → 30
  // msg/s); among the nodes' options, where it sits, ioredis ignores it.
  const {
    retryStrategy: _r,
    maxRetriesPerRequest,
    enableAutoPipelining: _never,
    ...nodeOptions
  } = redisOptions
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
   * fail or wait per the options). Closed with QUIT (then disconnect) when the scope closes,
   * QUIT waiting at most 2 s and never longer than `closeBudget`.
   */
  readonly connect: (options: ConnectionOptions) => Effect.Effect<RedisConnection, never, Scope.Scope>
  /**
   * How long closing may still take, read when a close begins: by a connection's QUIT, and by
   * whatever winds down over these connections (a BullMQ worker finishing its jobs). A process
   * with a shutdown deadline binds it to what is left of it; by default unbounded.
   */
  readonly closeBudget: Effect.Effect<Duration.Duration>
}

export interface ConnectionFactoryOptions {
  /** See `RedisConnectionFactoryShape.closeBudget`. */
  readonly closeBudget?: Effect.Effect<Duration.Duration>
}

/** A QUIT that gets no reply within this is cut by a disconnect. */
const QUIT_WAIT = Duration.seconds(2)

export class RedisConnectionFactory extends Context.Tag("@mailconnect/RedisConnectionFactory")<
  RedisConnectionFactory,
  RedisConnectionFactoryShape
>() {
  static make = (
    config: RedisConnectionConfig,
    options: ConnectionFactoryOptions = {},
  ): Effect.Effect<RedisConnectionFactoryShape> =>
    Effect.gen(function* () {
      const closeBudget = options.closeBudget ?? Effect.succeed(Duration.infinity)
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
            Effect.flatMap(closeBudget, (budget) =>
              Effect.promise(() =>
                connection.status === "ready"
                  ? connection.quit().then(
                      () => undefined,
                      () => connection.disconnect(),
                    )
                  : Promise.resolve(connection.disconnect()),
              ).pipe(
                // Finalizers are uninterruptible; let the timeout cut a QUIT that gets no reply
                // (a paused or partitioned Redis keeps the socket open and answers nothing).
                Effect.interruptible,
                Effect.timeoutTo({
                  duration: Duration.min(QUIT_WAIT, budget),
                  onTimeout: () => connection.disconnect(),
                  onSuccess: () => undefined,
                }),
              ),
            ),
        )
      return { config, keys: makeKeys(config.prefix), connect, closeBudget }
    })

  static layerFrom = (config: RedisConnectionConfig, options?: ConnectionFactoryOptions) =>
    Layer.effect(this, this.make(config, options))

  /** From `REDIS_URL` / `REDIS_PREFIX`, with a close budget (see `closeBudget`). */
  static layerWith = (options: ConnectionFactoryOptions = {}) =>
    Layer.effect(
      this,
      Effect.flatMap(redisConnectionConfig, (config) => this.make(config, options)),
    )

  /** From `REDIS_URL` / `REDIS_PREFIX`. */
  static layer = this.layerWith()
}
