/**
 * smtp-inbound's `Enqueue` port bound to the delivery queue: a listener's accepted message is
 * spooled and its jobs queued (and replicated when configured) before the 250. The queue's
 * `enqueue` fits the port as it is (message in, queue id out, `QueueUnavailable` → 451), the
 * sender's TLS demand (`requireTls`, `tlsRequiredNo`, RFC 8689) included.
 */
import { newMessageId, Enqueue as QueueEnqueue } from "@mailconnect/delivery-queue"
import { Enqueue } from "@mailconnect/smtp-inbound"
import { Clock, Effect, Layer } from "effect"

export const IngressEnqueueFromQueue = Layer.effect(
  Enqueue,
  Effect.map(QueueEnqueue, (queue) => ({
    newQueueId: Effect.map(Clock.currentTimeMillis, newMessageId),
    enqueue: queue.enqueue,
  })),
)
