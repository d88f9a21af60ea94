/**
 * `PolicyStore`: the Redis side of distribution. Bundle bytes live under their digest; the
 * `current` pointer is swapped by one Lua script that stores the bytes, compares serials and
 * announces, so two concurrent publishers can never move the pointer backwards.
 *
 * Trusts: nothing it reads (callers verify every byte). Touches: `{prefix}:policy:*` only.
 */
import { RedisClient, type RedisCommandError, type RedisSubscribeError } from "@mailconnect/redis-client"
import { Context, Effect, Layer, Option, Schema, Stream } from "effect"
import { BundleSerialNotAbove, PointerMalformed } from "./errors"
import { type PolicyKeys, policyKeys } from "./keys"

export const CurrentPointer = Schema.Struct({
  serial: Schema.NumberFromString.pipe(Schema.int()),
  digest: Schema.String,
  schema: Schema.NumberFromString.pipe(Schema.int()),
  publishedAt: Schema.String,
})
export type CurrentPointer = typeof CurrentPointer.Type

const SWAP = {
  name: "mcPolicySwap",
  numberOfKeys: 2,
  // KEYS: current, bundle(digest). ARGV: serial, digest, schema, bytes, publishedAt, channel, notice
  lua: `
local current = redis.call('HGET', KEYS[1], 'serial')
if current and tonumber(current) >= tonumber(ARGV[1]) then return {0, current, 0} end
redis.call('SET', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], 'serial', ARGV[1], 'digest', ARGV[2], 'schema', ARGV[3], 'publishedAt', ARGV[5])
local receivers = redis.call('PUBLISH', ARGV[6], ARGV[7])
return {1, current or '', receivers}`,
} as const

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
  readonly swap: (request: SwapRequest) => Effect.Effect<SwapResult, RedisCommandError | BundleSerialNotAbove>
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
        const reply = (yield* redis.script(
          SWAP,
          [keys.current, keys.bundle(request.digest)],
          [
            request.serial,
            request.digest,
            request.schema,
            request.bytes,
            request.publishedAt,
            keys.channel,
            notice,
          ],
        )) as [number, string, number]
        const [swapped, previous, receivers] = reply
        if (swapped !== 1)
          return yield* new BundleSerialNotAbove({ serial: request.serial, current: Number(previous) })
        return {
          previousSerial: previous === "" ? Option.none() : Option.some(Number(previous)),
          announcedTo: receivers,
        }
      })

      const announcements = redis.subscribe(keys.channel).pipe(Stream.map((): void => undefined))

      return { keys, readCurrent, readBundle, swap, announcements }
    }),
  )
}
