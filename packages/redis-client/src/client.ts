/**
 * `RedisClient`: one shared command connection for a process, with every ioredis promise turned
 * into an Effect failing with `RedisCommandError`. Subscriptions get a connection of their own
 * (a subscribed connection cannot run other commands).
 *
 * Trusts: the Redis endpoint named by `REDIS_URL`. Touches: only keys the callers name.
 */
import { Chunk, Context, Effect, Layer, Option, type Scope, Stream } from "effect"
import { type RedisConnection, RedisConnectionFactory } from "./connection"
import { RedisCommandError, RedisSubscribeError } from "./errors"
import type { RedisKeys } from "./keys"

/** A Lua script registered once per connection with ioredis `defineCommand` (EVALSHA, EVAL fallback). */
export interface LuaScript {
  readonly name: string
  readonly numberOfKeys: number
  readonly lua: string
}

export type RedisArg = string | number | Buffer

export interface RedisClientShape {
  readonly keys: RedisKeys
  /** Any command, e.g. `call("CLIENT", "LIST")`. Prefer the typed helpers below. */
  readonly call: (
    command: string,
    ...args: ReadonlyArray<RedisArg>
  ) => Effect.Effect<unknown, RedisCommandError>
  readonly get: (key: string) => Effect.Effect<Option.Option<string>, RedisCommandError>
  readonly mget: (
    keys: ReadonlyArray<string>,
  ) => Effect.Effect<ReadonlyArray<string | null>, RedisCommandError>
  /** SET, with a time to live in milliseconds when `ttlMs` is given. */
  readonly set: (key: string, value: string, ttlMs?: number) => Effect.Effect<void, RedisCommandError>
  readonly del: (...keys: ReadonlyArray<string>) => Effect.Effect<number, RedisCommandError>
  readonly hgetall: (key: string) => Effect.Effect<Readonly<Record<string, string>>, RedisCommandError>
  readonly publish: (channel: string, message: string) => Effect.Effect<number, RedisCommandError>
  readonly script: (
    script: LuaScript,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<RedisArg>,
  ) => Effect.Effect<unknown, RedisCommandError>
  /**
   * Messages on `channel`, over a dedicated connection opened when the stream starts and closed
   * when it ends. ioredis resubscribes after a reconnect; messages sent meanwhile are lost
   * (pub/sub is lossy: pair it with polling).
   */
  readonly subscribe: (channel: string) => Stream.Stream<string, RedisSubscribeError>
}

const classify = (command: string, error: unknown): RedisCommandError => {
  const detail = error instanceof Error ? error.message : String(error)
  const reason = /timed out/i.test(detail)
    ? "timeout"
    : /connection|closed|ECONNREFUSED|ECONNRESET|max retries|offline|EPIPE/i.test(detail) &&
        !(error as { name?: string }).name?.includes("ReplyError")
      ? "unavailable"
      : "reply"
  return new RedisCommandError({ command, reason, detail })
}

const defined = new WeakMap<RedisConnection, Set<string>>()

type Callable = Record<string, (...args: ReadonlyArray<RedisArg>) => Promise<unknown>>

export const makeRedisClient = (
  connection: RedisConnection,
  keys: RedisKeys,
  openSubscriber: Effect.Effect<RedisConnection, never, Scope.Scope>,
  commandTimeoutMs?: number,
): RedisClientShape => {
  // ioredis applies `commandTimeout` only once a command is sent; a Cluster client still looking
  // for its slots holds commands indefinitely. The same limit here bounds every call.
  const bound = <A>(command: string, effect: Effect.Effect<A, RedisCommandError>) =>
    commandTimeoutMs === undefined
      ? effect
      : Effect.timeoutFail(effect, {
          duration: commandTimeoutMs + 100,
          onTimeout: () => new RedisCommandError({ command, reason: "timeout", detail: "no reply in time" }),
        })
  const run = <A>(command: string, f: () => Promise<A>) =>
    bound(command, Effect.tryPromise({ try: f, catch: (e) => classify(command, e) })).pipe(
      Effect.withSpan(`redis.${command}`),
    )
  const scriptFor = (script: LuaScript): Callable[string] => {
    const names = defined.get(connection) ?? new Set<string>()
    defined.set(connection, names)
    if (!names.has(script.name)) {
      connection.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua })
      names.add(script.name)
    }
    const fn = (connection as unknown as Callable)[script.name]!
    return fn.bind(connection)
  }
  return {
    keys,
    call: (command, ...args) => run(command, () => connection.call(command, ...args)),
    get: (key) => run("GET", () => connection.get(key)).pipe(Effect.map(Option.fromNullable)),
    mget: (list) => (list.length === 0 ? Effect.succeed([]) : run("MGET", () => connection.mget(...list))),
    set: (key, value, ttlMs) =>
      run("SET", () =>
        ttlMs === undefined
          ? connection.set(key, value)
          : connection.set(key, value, "PX", Math.max(1, Math.round(ttlMs))),
      ).pipe(Effect.asVoid),
    del: (...list) => (list.length === 0 ? Effect.succeed(0) : run("DEL", () => connection.del(...list))),
    hgetall: (key) => run("HGETALL", () => connection.hgetall(key)),
    publish: (channel, message) => run("PUBLISH", () => connection.publish(channel, message)),
    script: (script, list, args) => run(`EVALSHA ${script.name}`, () => scriptFor(script)(...list, ...args)),
    subscribe: (channel) =>
      Stream.asyncScoped<string, RedisSubscribeError>((emit) =>
        Effect.gen(function* () {
          const subscriber = yield* openSubscriber
          subscriber.on("message", (from: string, message: string) => {
            if (from === channel) void emit.chunk(Chunk.of(message))
          })
          // The first SUBSCRIBE may wait for Redis to come up; ioredis replays it on reconnect.
          subscriber
            .subscribe(channel)
            .catch((e: Error) => emit.fail(new RedisSubscribeError({ channel, detail: e.message })))
        }),
      ),
  }
}

export class RedisClient extends Context.Tag("@mailconnect/RedisClient")<RedisClient, RedisClientShape>() {
  /**
   * The shared command connection. Commands fail after `commandTimeoutMs` (default 2 s) rather
   * than queue forever, so a caller can fall back (e.g. to the last-known-good bundle).
   */
  static layerWith = (options: { readonly commandTimeoutMs?: number } = {}) =>
    Layer.scoped(
      this,
      Effect.gen(function* () {
        const factory = yield* RedisConnectionFactory
        const commandTimeoutMs = options.commandTimeoutMs ?? 2_000
        const connection = yield* factory.connect({
          purpose: "commands",
          commandTimeoutMs,
          maxRetriesPerRequest: 1,
        })
        return makeRedisClient(
          connection,
          factory.keys,
          factory.connect({ purpose: "subscriber" }),
          commandTimeoutMs,
        )
      }),
    )

  /** Needs `RedisConnectionFactory`. */
  static layer = this.layerWith()

  /** Factory and client from `REDIS_URL` / `REDIS_PREFIX`. */
  static layerFromEnv = Layer.provideMerge(this.layer, RedisConnectionFactory.layer)
}
