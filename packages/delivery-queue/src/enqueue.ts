/**
 * `Enqueue`: stores a message for delivery. Returns only after the body and every job are in
 * Redis (and, when configured, on a replica) — the ingress answers 250 after that and 451 on
 * failure. Body and jobs go in one MULTI: one round trip, and never one without the other. Commands fail fast while Redis is away (one reconnect attempt or 5 s): a sender
 * retrying later beats a 250 for mail that is not stored.
 *
 * A message goes to the shard its id says (`QueueLayout`): body and jobs under one hash tag.
 *
 * Trusts: the Redis named by REDIS_URL. Touches: the `delivery` queue and the spool keys.
 */
import { PolicyView } from "@mailconnect/policy"
import { Clock, Context, Effect, Layer } from "effect"
import { BullQueue } from "./bull-queue"
import type { QueueUnavailable } from "./errors"
import { type DeliveryJobData, JOB_VERSION, jobIdFor, jobNameFor } from "./job"
import { QueueLayout } from "./layout"
import { groupByDomain, headerBlock, newMessageId } from "./message"
import { Spool } from "./spool"

export interface NewMessage {
  readonly messageId?: string
  /** Envelope sender; "" for the null reverse path (DSNs). */
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  readonly body: Buffer
  readonly arrivalAt?: number
  readonly isDsn?: boolean
  /** RFC 8689 REQUIRETLS, and the `TLS-Required: No` header (kept in the job only when true). */
  readonly requireTls?: boolean
  readonly tlsRequiredNo?: boolean
  /** An RFC 8460 TLS report we send (kept in the job only when true). */
  readonly tlsReport?: boolean
}

export interface Enqueued {
  readonly messageId: string
  readonly jobIds: ReadonlyArray<string>
}

/** Spool safety TTL: longest sensible retry period plus margin (bodies are normally removed by refcount). */
const SPOOL_TTL_MS = 31 * 86_400_000

const jobOptions = (jobId: string) => ({
  jobId,
  // Timeline delays are not BullMQ retries; these only cover unexpected processor errors
  // (e.g. Redis gone mid-attempt), retried every 30 s.
  attempts: 10_000,
  backoff: { type: "fixed" as const, delay: 30_000 },
  removeOnComplete: { age: 7 * 86_400, count: 100_000 },
  removeOnFail: { age: 30 * 86_400 },
})

/** One job per recipient domain, named for the partner the policy maps it to. */
const jobsFor = (
  message: NewMessage,
  messageId: string,
  arrivalAt: number,
  partnerFor: (domain: string) => string | undefined,
) =>
  [...groupByDomain(message.recipients)].map(([domain, recipients]) => {
    const data: DeliveryJobData = {
      v: JOB_VERSION,
      messageId,
      domain,
      sender: message.sender,
      recipients,
      pending: recipients,
      queuedAt: arrivalAt,
      isDsn: message.isDsn ?? false,
      warned: false,
      attemptCount: 0,
      attempts: [],
      results: [],
      ...(message.requireTls ? { requireTls: true } : {}),
      ...(message.tlsRequiredNo && !message.requireTls ? { tlsRequiredNo: true } : {}),
      ...(message.tlsReport ? { tlsReport: true } : {}),
    }
    const jobId = jobIdFor(messageId, domain)
    return { name: jobNameFor(messageId, domain, partnerFor(domain)), data, opts: jobOptions(jobId) }
  })

export class Enqueue extends Context.Tag("@mailconnect/delivery-queue/Enqueue")<
  Enqueue,
  { readonly enqueue: (message: NewMessage) => Effect.Effect<Enqueued, QueueUnavailable> }
>() {
  static layer = Layer.effect(
    Enqueue,
    Effect.gen(function* () {
      const { addWith, replicated } = yield* BullQueue
      const spool = yield* Spool
      const layout = yield* QueueLayout
      const policy = yield* PolicyView
      const enqueue = Effect.fnUntraced(function* (message: NewMessage) {
        const now = yield* Clock.currentTimeMillis
        const messageId = message.messageId ?? newMessageId(now)
        const arrivalAt = message.arrivalAt ?? now
        const active = yield* policy.current
        const jobs = jobsFor(message, messageId, arrivalAt, (d) => active?.lookup.partnerFor(d)?.name)
        const jobIds = jobs.map((j) => j.opts.jobId)
        const spooled = {
          body: message.body,
          sender: message.sender,
          headers: headerBlock(message.body),
          arrivalAt,
        }
        const shard = layout.shardOf(messageId)
        yield* addWith(shard, spool.storeCommands(shard, messageId, spooled, jobIds, SPOOL_TTL_MS), jobs)
        // Stored on the master even when the replicas do not confirm in time: the sender then
        // gets a 4xx and may send again (a duplicate, never a loss).
        yield* replicated
        return { messageId, jobIds }
      })
      return { enqueue }
    }),
  )
}
