/**
 * smtp-inbound's `Enqueue` port bound to the delivery queue: a listener's accepted message is
 * spooled and its jobs queued (and replicated when configured) before the 250; the queue's
 * `QueueUnavailable` becomes the listener's `NotQueued` (451).
 */
import { newMessageId, Enqueue as QueueEnqueue } from "@mailconnect/delivery-queue"
import { Enqueue, NotQueued } from "@mailconnect/smtp-inbound"
import { Clock, Effect, Layer } from "effect"

export const IngressEnqueueFromQueue = Layer.effect(
  Enqueue,
  Effect.map(QueueEnqueue, (queue) => ({
    newQueueId: Effect.map(Clock.currentTimeMillis, newMessageId),
    enqueue: ({ queueId, ...message }) =>
      queue.enqueue({ ...message, messageId: queueId }).pipe(
        Effect.map((enqueued) => enqueued.messageId),
        Effect.mapError(({ operation, detail }) => new NotQueued({ operation, detail })),
      ),
  })),
)
