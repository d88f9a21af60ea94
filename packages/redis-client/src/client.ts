/**
 * `RedisClient`: one shared command connection for a process, with every ioredis promise turned
 * into an Effect failing with `RedisCommandError`. Subscriptions get a connection of their own
 * (a subscribed connection cannot run other commands).
 *
 * Trusts: the Redis endpoint named by `REDIS_URL`. Touches: only keys the callers name.
 */
import { createHash } from "node:crypto"
import { Chunk, Context, Effect, Layer, Option, type Scope, Stream } from "effect"
import { type ConnectionOptions, type RedisConnection, RedisConnectionFactory } from "./connection"
import { RedisCommandError, RedisSubscribeError } from "./errors"
import type { RedisKeys } from "./keys"

/** A Lua script, run by its SHA1 (EVALSHA) with EVAL as the fallback when Redis does not have it yet. */
export interface LuaScript {
  readonly name: string
  readonly numberOfKeys: number
  readonly lua: string
}

export type RedisArg = string | number | Buffer

/** One command of a batch: name and arguments, e.g. `["HINCRBY", key, field, 1]`. */
export type RedisCommand = readonly [command: string, ...args: ReadonlyArray<RedisArg>]

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
  /** HMGET as bytes (binary-safe bodies); a missing field is null. */
  readonly hmgetBuffer: (
    key: string,
    fields: ReadonlyArray<string>,
  ) => Effect.Effect<ReadonlyArray<Buffer | null>, RedisCommandError>
  readonly exists: (key: string) => Effect.Effect<boolean, RedisCommandError>
  readonly smembers: (key: string) => Effect.Effect<ReadonlyArray<string>, RedisCommandError>
  /**
   * Commands sent in one round trip, replies in order; `atomic` wraps them in MULTI/EXEC. On
   * Cluster every key must share one hash slot (the `{tag}` prefix does). A command's own error
   * fails the batch.
   */
  readonly batch: (
    commands: ReadonlyArray<RedisCommand>,
    options?: { readonly atomic?: boolean },
  ) => Effect.Effect<ReadonlyArray<unknown>, RedisCommandError>
  readonly publish: (channel: string, message: string) => Effect.Effect<number, RedisCommandError>
  readonly script: (
    script: LuaScript,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<RedisArg>,
  ) => Effect.Effect<unknown, RedisCommandError>
  /**
   * Many calls of one script in one round trip (a pipeline of EVALSHA, each with its own keys:
   * `keys.length` is its key count); results in order. A call the server did not know the script
   * for is sent again as EVAL — only that call, so none runs twice. On Cluster every key
   * of every call must share one hash slot. Any other error fails the whole.
   */
  readonly scripts: (
    script: LuaScript,
    calls: ReadonlyArray<{ readonly keys: ReadonlyArray<string>; readonly args: ReadonlyArray<RedisArg> }>,
  ) => Effect.Effect<ReadonlyArray<unknown>, RedisCommandError>
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

const shas = new WeakMap<LuaScript, string>()
const shaOf = (script: LuaScript): string => {
  let sha = shas.get(script)
  if (sha === undefined) {
    sha = createHash("sha1").update(script.lua).digest("hex")
    shas.set(script, sha)
  }
  return sha
}

const isNoScript = (e: unknown) => e instanceof Error && e.message.startsWith("NOSCRIPT")

export const makeRedisClient = (
  connection: RedisConnection,
  keys: RedisKeys,
  openSubscriber: Effect.Effect<RedisConnection, never, Scope.Scope>,
  /** Cluster only (see `clusterBound`); elsewhere ioredis's own `commandTimeout` suffices. */
  commandTimeoutMs?: number,
): RedisClientShape => {
  // ioredis applies `commandTimeout` only once a command is sent; a Cluster client still looking
  // for its slots holds commands indefinitely. The same limit here bounds every call there. (On
  // standalone and Sentinel an Effect timeout per command — a fiber and a timer each — cost the
  // enqueue path a third of its rate for nothing ioredis does not already do.)
  const bound = <A>(command: string, effect: Effect.Effect<A, RedisCommandError>) =>
    commandTimeoutMs === undefined
      ? effect
      : Effect.timeoutFail(effect, {
          duration: commandTimeoutMs + 100,
          onTimeout: () => new RedisCommandError({ command, reason: "timeout", detail: "no reply in time" }),
        })
  // No span per command: a relay runs no tracer, and a span (with its context, clock reads and
  // exit hook) on each of the ~20 commands of a message was CPU spent for nobody (docs/scaling.md).
  const run = <A>(command: string, f: () => Promise<A>) =>
    bound(command, Effect.tryPromise({ try: f, catch: (e) => classify(command, e) }))
  // Scripts run as plain EVALSHA, then EVAL when the server does not know the script yet — not
  // through ioredis `defineCommand`: an auto-pipeline opened before a script was defined lacks
  // the script's method, and ioredis then throws an uncaught "results[i] is not iterable"
  // (redis/ioredis#1931), leaving every command of that pipeline unsettled.
  const evalScript = async (
    script: LuaScript,
    list: ReadonlyArray<string>,
    args: ReadonlyArray<RedisArg>,
  ) => {
    try {
      return await connection.evalsha(shaOf(script), script.numberOfKeys, ...list, ...args)
    } catch (e) {
      if (!isNoScript(e)) throw e
      return await connection.eval(script.lua, script.numberOfKeys, ...list, ...args)
    }
  }
  const pipelinedScripts = async (
    script: LuaScript,
    calls: ReadonlyArray<{ readonly keys: ReadonlyArray<string>; readonly args: ReadonlyArray<RedisArg> }>,
  ) => {
    const sha = shaOf(script)
    // First by SHA; the calls the server did not know it for by their text (EVAL loads it on
    // the node that ran them: on a Cluster, SCRIPT LOAD would reach just one).
    const send = async (indexes: ReadonlyArray<number>, byText: boolean) => {
      const pipeline = connection.pipeline()
      for (const i of indexes) {
        const { keys: list, args } = calls[i]!
        if (byText) pipeline.eval(script.lua, list.length, ...list, ...args)
        else pipeline.evalsha(sha, list.length, ...list, ...args)
      }
      return (await pipeline.exec()) ?? []
    }
    const results: Array<unknown> = new Array(calls.length)
    let todo = calls.map((_, i) => i)
    for (const byText of [false, true]) {
      if (todo.length === 0) break
      const replies = await send(todo, byText)
      const unknown: Array<number> = []
      replies.forEach(([error, reply], n) => {
        const i = todo[n]!
        if (!error) results[i] = reply
        else if (isNoScript(error) && !byText) unknown.push(i)
        else throw error
      })
      todo = unknown
    }
    return results
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
    hmgetBuffer: (key, fields) => run("HMGET", () => connection.hmgetBuffer(key, ...fields)),
    exists: (key) => run("EXISTS", () => connection.exists(key)).pipe(Effect.map((n) => n === 1)),
    smembers: (key) => run("SMEMBERS", () => connection.smembers(key)),
    batch: (commands, options) =>
      run(options?.atomic ? "MULTI" : "PIPELINE", async () => {
        const batch = options?.atomic ? connection.multi() : connection.pipeline()
        for (const [command, ...args] of commands) batch.call(command, ...args)
        const replies = (await batch.exec()) ?? []
        return replies.map(([error, reply]) => {
          if (error) throw error
          return reply
        })
      }),
    publish: (channel, message) => run("PUBLISH", () => connection.publish(channel, message)),
    script: (script, list, args) => run(`EVALSHA ${script.name}`, () => evalScript(script, list, args)),
    scripts: (script, calls) =>
      calls.length === 0
        ? Effect.succeed([])
        : run(`EVALSHA ${script.name} ×${calls.length}`, () => pipelinedScripts(script, calls)),
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

/** The Effect-level bound per command, needed on Cluster only. */
const clusterBound = (
  factory: RedisConnectionFactory["Type"],
  commandTimeoutMs: number | undefined,
): number | undefined => (factory.config.topology._tag === "Cluster" ? commandTimeoutMs : undefined)

export class RedisClient extends Context.Tag("@mailconnect/RedisClient")<RedisClient, RedisClientShape>() {
  /**
   * A client on a connection of its own, for an adapter with its own needs (e.g. the spool:
   * fail fast while Redis is away, auto-pipelining); closed with the scope.
   */
  static connect = (options: ConnectionOptions) =>
    Effect.gen(function* () {
      const factory = yield* RedisConnectionFactory
      const connection = yield* factory.connect(options)
      return makeRedisClient(
        connection,
        factory.keys,
        factory.connect({ purpose: `${options.purpose}-subscriber` }),
        clusterBound(factory, options.commandTimeoutMs),
      )
    })

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
          clusterBound(factory, commandTimeoutMs),
        )
      }),
    )

  /** Needs `RedisConnectionFactory`. */
  static layer = this.layerWith()

  /** Factory and client from `REDIS_URL` / `REDIS_PREFIX`. */
  static layerFromEnv = Layer.provideMerge(this.layer, RedisConnectionFactory.layer)
}
