/**
 * `Enqueue`: what the listeners need from a queue — a queue id to name in the Received header,
 * and storing one accepted message durably under it. The relay binds it to the delivery queue;
 * a message counts as accepted (250) only after `enqueue` succeeds.
 */
import { Context, Data, type Effect } from "effect"

export interface InboundMessage {
  readonly queueId: string
  /** Envelope sender; "" for the null reverse path. */
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  readonly body: Buffer
  readonly arrivalAt: number
}

/** The message is not stored: the listener answers 451 and the sender tries again later. */
export class NotQueued extends Data.TaggedError("NotQueued")<{
  readonly operation: string
  readonly detail: string
}> {}

export class Enqueue extends Context.Tag("@mailconnect/smtp-inbound/Enqueue")<
  Enqueue,
  {
    /** A new queue id, unique across the fleet. */
    readonly newQueueId: Effect.Effect<string>
    /** Stores the message and its delivery jobs; returns its queue id. */
    readonly enqueue: (message: InboundMessage) => Effect.Effect<string, NotQueued>
  }
>() {}
