/**
 * `PolicyStore`: the Redis side of distribution. Bundle bytes live under their digest; the
 * `current` pointer is swapped by one Lua script that stores the bytes, compares serials (with the
 * pointer and with the fleet floor), appends to the publish history and announces, so two
 * concurrent publishers can never move the pointer backwards. Relays raise the floor (the highest
 * serial activated anywhere) with a compare-and-raise script after each activation.
 *
 * Trusts: nothing it reads (callers verify every byte). Touches: `{prefix}:policy:*` only.
 */
import { RedisClient, type RedisCommandError, type RedisSubscribeError } from "@mailconnect/redis-client"
import { Context, Effect, Layer, Option, Schema, Stream } from "effect"
import { BundleBelowFloor, BundleSerialNotAbove, PointerMalformed } from "./errors"
import { type PolicyKeys, policyKeys } from "./keys"

export const CurrentPointer = Schema.Struct({
  serial: Schema.NumberFromString.pipe(Schema.int()),
  digest: Schema.String,
  schema: Schema.NumberFromString.pipe(Schema.int()),
  publishedAt: Schema.String,
})
export type CurrentPointer = typeof CurrentPointer.Type

const HISTORY_KEPT = 1_000

const SWAP = {
  name: "mcPolicySwap",
  numberOfKeys: 4,
  // KEYS: current, bundle(digest), floor, history.
  // ARGV: serial, digest, schema, bytes, publishedAt, channel, notice, history entry, history kept
  lua: `
local current = redis.call('HGET', KEYS[1], 'serial')
if current and tonumber(current) >= tonumber(ARGV[1]) then return {0, current, 0, ''} end
local floor = tonumber(redis.call('HGET', KEYS[3], 'serial') or '')
if floor and floor >= tonumber(ARGV[1]) then return {2, current or '', 0, tostring(floor)} end
redis.call('SET', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], 'serial', ARGV[1], 'digest', ARGV[2], 'schema', ARGV[3], 'publishedAt', ARGV[5])
redis.call('LPUSH', KEYS[4], ARGV[8])
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[9]) - 1)
local receivers = redis.call('PUBLISH', ARGV[6], ARGV[7])
return {1, current or '', receivers, ''}`,
} as const

const RAISE_FLOOR = {
  name: "mcPolicyRaiseFloor",
  numberOfKeys: 1,
  // KEYS: floor. ARGV: serial, digest. Returns the floor after the call (never lower than before).
  lua: `
local floor = redis.call('HGET', KEYS[1], 'serial')
if floor and tonumber(floor) and tonumber(floor) >= tonumber(ARGV[1]) then return floor end
redis.call('HSET', KEYS[1], 'serial', ARGV[1], 'digest', ARGV[2])
return ARGV[1]`,
} as const

/** The fleet floor as Redis holds it; a relay checks it against the signed bundle it names. */
export interface FloorRecord {
  readonly serial: number
  readonly digest: string
}

const FloorHash = Schema.Struct({
  serial: Schema.NumberFromString.pipe(Schema.int()),
  digest: Schema.String,
})

export const HistoryEntry = Schema.Struct({
  serial: Schema.Number,
  digest: Schema.String,
  schema: Schema.Number,
  publishedAt: Schema.String,
})
export type HistoryEntry = typeof HistoryEntry.Type

export interface SwapRequest {
  readonly bytes: string
  readonly digest: string
  readonly serial: number
  readonly schema: number
  readonly publishedAt: string
}

export interface SwapResult {
  readonly previousSerial: Option.Option<number>
  /** Subscribers that received the notice (relays also poll, so 0 is not an error). */
  readonly announcedTo: number
}

export interface PolicyStoreShape {
  readonly keys: PolicyKeys
  readonly readCurrent: Effect.Effect<Option.Option<CurrentPointer>, RedisCommandError | PointerMalformed>
  readonly readBundle: (digest: string) => Effect.Effect<Option.Option<string>, RedisCommandError>
  readonly swap: (
    request: SwapRequest,
  ) => Effect.Effect<SwapResult, RedisCommandError | BundleSerialNotAbove | BundleBelowFloor>
  /** None when no relay has recorded a floor, or the record is not well-formed (never trusted then). */
  readonly readFloor: Effect.Effect<Option.Option<FloorRecord>, RedisCommandError>
  /** Raises the fleet floor to `serial` unless it is already as high; returns the floor after. */
  readonly raiseFloor: (floor: FloorRecord) => Effect.Effect<number, RedisCommandError>
  /** Published pointers, newest first (entries that do not decode are skipped). */
  readonly history: (limit: number) => Effect.Effect<ReadonlyArray<HistoryEntry>, RedisCommandError>
  /** One element per change notice. */
  readonly announcements: Stream.Stream<void, RedisSubscribeError>
}

export class PolicyStore extends Context.Tag("@mailconnect/PolicyStore")<PolicyStore, PolicyStoreShape>() {
  static layer = Layer.effect(
    this,
    Effect.gen(function* () {
      const redis = yield* RedisClient
      const keys = policyKeys(redis.keys)

      const readCurrent = Effect.gen(function* () {
        const hash = yield* redis.hgetall(keys.current)
        if (Object.keys(hash).length === 0) return Option.none()
        const pointer = yield* Schema.decodeUnknown(CurrentPointer)(hash).pipe(
          Effect.mapError((e) => new PointerMalformed({ detail: e.message })),
        )
        return Option.some(pointer)
      }).pipe(Effect.withSpan("PolicyStore.readCurrent"))

      const readBundle = Effect.fn("PolicyStore.readBundle")(function* (digest: string) {
        return yield* redis.get(keys.bundle(digest))
      })

      const swap = Effect.fn("PolicyStore.swap")(function* (request: SwapRequest) {
        const notice = JSON.stringify({ serial: request.serial, digest: request.digest })
        const entry: HistoryEntry = {
          serial: request.serial,
          digest: request.digest,
          schema: request.schema,
          publishedAt: request.publishedAt,
        }
        const reply = (yield* redis.script(
          SWAP,
          [keys.current, keys.bundle(request.digest), keys.floor, keys.history],
          [
            request.serial,
            request.digest,
            request.schema,
            request.bytes,
            request.publishedAt,
            keys.channel,
            notice,
            JSON.stringify(entry),
            HISTORY_KEPT,
          ],
        )) as [number, string, number, string]
        const [swapped, previous, receivers, floor] = reply
        if (swapped === 0)
          return yield* new BundleSerialNotAbove({ serial: request.serial, current: Number(previous) })
        if (swapped === 2)
          return yield* new BundleBelowFloor({ serial: request.serial, floor: Number(floor) })
        return {
          previousSerial: previous === "" ? Option.none() : Option.some(Number(previous)),
          announcedTo: receivers,
        }
      })

      const readFloor = redis.hgetall(keys.floor).pipe(
        Effect.map((hash) => Option.getRight(Schema.decodeUnknownEither(FloorHash)(hash))),
        Effect.withSpan("PolicyStore.readFloor"),
      )

      const raiseFloor = Effect.fn("PolicyStore.raiseFloor")(function* (floor: FloorRecord) {
        const after = yield* redis.script(RAISE_FLOOR, [keys.floor], [floor.serial, floor.digest])
        return Number(after)
      })

      const history = Effect.fn("PolicyStore.history")(function* (limit: number) {
        const entries = (yield* redis.call(
          "LRANGE",
          keys.history,
          0,
          Math.max(0, limit - 1),
        )) as Array<string>
        const decode = Schema.decodeUnknownOption(Schema.parseJson(HistoryEntry))
        return entries.flatMap((text) => Option.toArray(decode(text)))
      })

      const announcements = redis.subscribe(keys.channel).pipe(Stream.map((): void => undefined))

      return { keys, readCurrent, readBundle, swap, readFloor, raiseFloor, history, announcements }
    }),
  )
}
