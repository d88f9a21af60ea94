/**
 * Redis memory high-water mark. At `maxmemory` a `noeviction` Redis refuses every write — also
 * BullMQ's own job scripts, so no queued message could start delivery (which is what frees
 * memory). Above `highWater` × maxmemory the ingress therefore stops taking new mail (452 4.3.1,
 * the sender retries) while delivery, its retries and DSNs go on in the room left below maxmemory.
 *
 * Read from `INFO memory` (`used_memory`, `maxmemory`) every `intervalMs` on the shared
 * connection; what this process stored since the last reading (`stored`) counts on top, so a
 * fast sender cannot run past the mark to maxmemory between two readings (other relays' writes
 * between readings are not counted: the room above the mark is for them and for delivery). Off when maxmemory is 0 (unlimited), when `highWater` is not in (0, 1), and on a
 * Redis Cluster (one INFO reads one master; each master would need its own reading). A Redis that
 * does not answer within an interval counts as "not full": the enqueue itself then fails (451).
 *
 * Trusts: the Redis named by REDIS_URL (a writer there can only make the ingress refuse mail).
 */
import { RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { Context, Duration, Effect, Layer, Option, Ref, Schedule } from "effect"

export interface MemoryWatermarkOptions {
  /** Fraction of maxmemory above which new mail is refused; 0 or ≥ 1 turns the check off. */
  readonly highWater: number
  readonly intervalMs: number
}

/** A reading above the mark. */
export interface MemoryPressure {
  readonly usedBytes: number
  readonly maxBytes: number
}

const field = (info: string, name: string): number | undefined => {
  const value = new RegExp(`^${name}:(\\d+)`, "m").exec(info)?.[1]
  return value === undefined ? undefined : Number(value)
}

interface Reading {
  readonly usedBytes: number
  readonly maxBytes: number
}

/** `INFO memory`'s used and limit; undefined where Redis has no limit (or the reply is not INFO). */
export const readingOf = (info: string): Reading | undefined => {
  const usedBytes = field(info, "used_memory")
  const maxBytes = field(info, "maxmemory")
  if (usedBytes === undefined || maxBytes === undefined || maxBytes === 0) return undefined
  return { usedBytes, maxBytes }
}

/** The reading plus what was stored since, when that is at or above `highWater` of the limit. */
export const pressureOf = (
  reading: Reading | undefined,
  storedSince: number,
  highWater: number,
): Option.Option<MemoryPressure> => {
  if (reading === undefined) return Option.none()
  const usedBytes = reading.usedBytes + storedSince
  return usedBytes >= reading.maxBytes * highWater
    ? Option.some({ usedBytes, maxBytes: reading.maxBytes })
    : Option.none()
}

export class MemoryWatermark extends Context.Tag("@mailconnect/delivery-queue/MemoryWatermark")<
  MemoryWatermark,
  {
    /** The last reading (with what was stored since) when above the mark; none while the check is off. */
    readonly pressure: Effect.Effect<Option.Option<MemoryPressure>>
    /** This process stored about `bytes` more (a message body): counted until the next reading. */
    readonly stored: (bytes: number) => Effect.Effect<void>
  }
>() {
  static off = Layer.succeed(MemoryWatermark, {
    pressure: Effect.succeed(Option.none()),
    stored: () => Effect.void,
  })

  static layer = (options: MemoryWatermarkOptions) =>
    Layer.unwrapEffect(
      Effect.map(RedisConnectionFactory, (factory) =>
        options.highWater <= 0 || options.highWater >= 1 || factory.config.topology._tag === "Cluster"
          ? MemoryWatermark.off
          : Layer.scoped(
              MemoryWatermark,
              Effect.gen(function* () {
                const redis = yield* RedisClient
                const last = yield* Ref.make<{ reading: Reading | undefined; storedSince: number }>({
                  reading: undefined,
                  storedSince: 0,
                })
                const interval = Duration.millis(options.intervalMs)
                const read = redis.call("INFO", "memory").pipe(
                  Effect.map((info) => readingOf(String(info))),
                  Effect.timeout(interval),
                  Effect.orElseSucceed(() => undefined),
                  Effect.flatMap((reading) => Ref.set(last, { reading, storedSince: 0 })),
                )
                yield* Effect.forkScoped(Effect.repeat(read, Schedule.spaced(interval)))
                return {
                  pressure: Effect.map(Ref.get(last), ({ reading, storedSince }) =>
                    pressureOf(reading, storedSince, options.highWater),
                  ),
                  stored: (bytes: number) =>
                    Ref.update(last, (state) => ({ ...state, storedSince: state.storedSince + bytes })),
                }
              }),
            ),
      ),
    )
}
