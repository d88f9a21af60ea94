/**
 * smtp-inbound's `Enqueue` port bound to the delivery queue: a listener's accepted message is
 * spooled and its jobs queued (and replicated when configured) before the 250. The queue's
 * `enqueue` fits the port as it is (message in, queue id out, `QueueUnavailable` → 451), the
 * sender's TLS demand (`requireTls`, `tlsRequiredNo`, RFC 8689) included.
 *
 * `withMemoryWatermark` puts Redis's memory high-water mark in front of it (and of the TLS report
 * mailbox): above RELAY_REDIS_MEMORY_HIGH_WATER percent of maxmemory (90; 0 = off) new mail gets
 * 452 4.3.1 and nothing is written, so delivery keeps the room it needs to drain the queue.
 */
import { MemoryWatermark, newMessageId, Enqueue as QueueEnqueue } from "@mailconnect/delivery-queue"
import { Enqueue, type InboundMessage, StorageFull } from "@mailconnect/smtp-inbound"
import { Clock, Config, Effect, Layer, Option } from "effect"

export const IngressEnqueueFromQueue = Layer.effect(
  Enqueue,
  Effect.map(QueueEnqueue, (queue) => ({
    newQueueId: Effect.map(Clock.currentTimeMillis, newMessageId),
    enqueue: queue.enqueue,
  })),
)

/** How often the mark is read (one `INFO memory` per relay process). */
const WATERMARK_INTERVAL_MS = 1_000

const MemoryWatermarkFromEnv = Layer.unwrapEffect(
  Effect.map(
    Config.integer("RELAY_REDIS_MEMORY_HIGH_WATER").pipe(
      Config.withDefault(90),
      Config.validate({ message: "a percentage from 0 (off) to 99", validation: (p) => p >= 0 && p < 100 }),
    ),
    (percent) => MemoryWatermark.layer({ highWater: percent / 100, intervalMs: WATERMARK_INTERVAL_MS }),
  ),
)

export const withMemoryWatermark = <E, R>(enqueue: Layer.Layer<Enqueue, E, R>) =>
  Layer.effect(
    Enqueue,
    Effect.gen(function* () {
      const inner = yield* Enqueue
      const watermark = yield* MemoryWatermark
      return {
        newQueueId: inner.newQueueId,
        enqueue: (message: InboundMessage) =>
          Effect.flatMap(
            watermark.pressure,
            Option.match({
              onNone: () => Effect.tap(inner.enqueue(message), () => watermark.stored(message.body.length)),
              onSome: (pressure) => Effect.fail(new StorageFull(pressure)),
            }),
          ),
      }
    }),
  ).pipe(Layer.provide(Layer.merge(enqueue, MemoryWatermarkFromEnv)))
