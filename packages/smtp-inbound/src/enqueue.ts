/**
 * `Enqueue`: what the listeners need from a queue — a queue id to name in the Received header,
 * and storing one accepted message durably under it. The relay binds it to the delivery queue;
 * a message counts as accepted (250) only after `enqueue` succeeds.
 */
import { Context, Data, type Effect } from "effect"

export interface InboundMessage {
  /** The queue id (from `newQueueId`), named in the Received header and the 250 reply. */
  readonly messageId: string
  /** Envelope sender; "" for the null reverse path. */
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  readonly body: Buffer
  readonly arrivalAt: number
  /** RFC 8689: MAIL FROM carried REQUIRETLS (only possible over TLS). */
  readonly requireTls: boolean
  /** RFC 8689 §5: a `TLS-Required: No` header and no REQUIRETLS. */
  readonly tlsRequiredNo: boolean
}

/** The message is not stored: the listener answers 451 and the sender tries again later. */
export class QueueUnavailable extends Data.TaggedError("QueueUnavailable")<{
  readonly operation: string
  readonly detail: string
}> {}

/** Redis is nearly full (memory high-water mark): the listener answers 452 4.3.1, delivery goes on. */
export class StorageFull extends Data.TaggedError("StorageFull")<{
  readonly usedBytes: number
  readonly maxBytes: number
}> {}

export class Enqueue extends Context.Tag("@mailconnect/smtp-inbound/Enqueue")<
  Enqueue,
  {
    /** A new queue id, unique across the fleet. */
    readonly newQueueId: Effect.Effect<string>
    /** Stores the message and its delivery jobs. */
    readonly enqueue: (
      message: InboundMessage,
    ) => Effect.Effect<{ readonly messageId: string }, QueueUnavailable | StorageFull>
  }
>() {}
