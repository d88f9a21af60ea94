/**
 * `DeliveryQueue`: the BullMQ producer side and the spool. `enqueue` returns only after the body
 * and every job are in Redis (and, when configured, on a replica) — the ingress answers 250 after
 * that and 451 on failure. Commands fail fast while Redis is away (one reconnect attempt or 5 s):
 * a sender retrying later beats a 250 for mail that is not stored.
 *
 * Trusts: the Redis named by REDIS_URL. Touches: the `delivery` queue and the spool keys.
 */
import { PolicyView } from "@mailconnect/policy"
import { RedisConnectionFactory } from "@mailconnect/redis-client"
import { type Job, Queue } from "bullmq"
import { Clock, Context, Effect, Layer } from "effect"
import { MessageUnknown, QueueUnavailable } from "./errors"
import { type DeliveryJobData, JOB_VERSION, jobIdFor, jobNameFor } from "./job"
import { canonicalDomain, groupByDomain, headerBlock, newMessageId } from "./message"
import { makeSpool, type Spool } from "./spool"
import { type DeliveryStats, makeDeliveryStats } from "./stats"

export const QUEUE_NAME = "delivery"

export interface NewMessage {
  readonly messageId?: string
  /** Envelope sender; "" for the null reverse path (DSNs). */
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  readonly body: Buffer
  readonly arrivalAt?: number
  readonly isDsn?: boolean
}

export interface Enqueued {
  readonly messageId: string
  readonly jobIds: ReadonlyArray<string>
}

export interface JobView {
  readonly jobId: string
  readonly state: string
  readonly data: DeliveryJobData
  readonly log: ReadonlyArray<string>
}

export interface MessageView {
  readonly messageId: string
  readonly bodyStored: boolean
  readonly jobs: ReadonlyArray<JobView>
}

export interface FlushFilter {
  readonly domain?: string
  readonly partner?: string
}

export interface DeliveryQueueShape {
  readonly enqueue: (message: NewMessage) => Effect.Effect<Enqueued, QueueUnavailable>
  /** Promotes matching delayed jobs so they are tried now; returns how many. */
  readonly flush: (filter: FlushFilter) => Effect.Effect<number, QueueUnavailable>
  readonly show: (messageId: string) => Effect.Effect<MessageView, QueueUnavailable | MessageUnknown>
  readonly counts: Effect.Effect<Readonly<Record<string, number>>, QueueUnavailable>
  readonly spool: Spool
  readonly stats: DeliveryStats
  /** The BullMQ queue, for adapters such as bull-board. */
  readonly queue: Queue
}

/** Spool safety TTL: longest sensible retry period plus margin (bodies are normally removed by refcount). */
const SPOOL_TTL_MS = 31 * 86_400_000

const unavailable = (operation: string) => (e: unknown) =>
  new QueueUnavailable({ operation, detail: e instanceof Error ? e.message : String(e) })

export interface DeliveryQueueOptions {
  /**
   * Replicas that must hold a message before it counts as accepted (Redis `WAIT`); 0 = the
   * master's acknowledgement suffices. With Sentinel this closes the window in which a message
   * acknowledged just before a failover is lost with the old master. Not used on Cluster.
   */
  readonly waitReplicas?: number
  readonly waitTimeoutMs?: number
}

export class DeliveryQueue extends Context.Tag("@mailconnect/DeliveryQueue")<
  DeliveryQueue,
  DeliveryQueueShape
>() {
  static layerWith = (options: DeliveryQueueOptions) =>
    Layer.scoped(
      DeliveryQueue,
      Effect.gen(function* () {
        const factory = yield* RedisConnectionFactory
        const policy = yield* PolicyView
        // While Redis is away, commands fail after one reconnect attempt or 5 s, whichever comes first.
        const failFast = { maxRetriesPerRequest: 1, commandTimeoutMs: 5_000, autoPipelining: true } as const
        const spoolConnection = yield* factory.connect({ purpose: "spool", ...failFast })
        const queueConnection = yield* factory.connect({ purpose: "queue", ...failFast })
        const spool = makeSpool(spoolConnection, factory.keys)
        const queue = yield* Effect.acquireRelease(
          Effect.sync(
            () =>
              new Queue(QUEUE_NAME, {
                connection: queueConnection,
                prefix: factory.keys.tag,
                skipWaitingForReady: true,
              }),
          ),
          (q) => Effect.promise(() => q.close().catch(() => undefined)),
        )
        queue.on("error", () => undefined)

        const waitReplicas = factory.config.topology._tag === "Cluster" ? 0 : (options.waitReplicas ?? 0)
        const waitTimeoutMs = options.waitTimeoutMs ?? 1_000
        // The replication offset is the master's: acknowledging the queue's last write covers the spool too.
        const replicated =
          waitReplicas === 0
            ? Effect.void
            : Effect.tryPromise({
                try: () => queueConnection.call("WAIT", waitReplicas, waitTimeoutMs) as Promise<number>,
                catch: unavailable("replication"),
              }).pipe(
                Effect.filterOrFail(
                  (acknowledged) => acknowledged >= waitReplicas,
                  (acknowledged) =>
                    new QueueUnavailable({
                      operation: "replication",
                      detail: `${acknowledged} of ${waitReplicas} replica(s) acknowledged within ${waitTimeoutMs} ms`,
                    }),
                ),
                Effect.asVoid,
              )

        const enqueue = Effect.fn("DeliveryQueue.enqueue")(function* (message: NewMessage) {
          const now = yield* Clock.currentTimeMillis
          const messageId = message.messageId ?? newMessageId(now)
          const arrivalAt = message.arrivalAt ?? now
          const active = yield* policy.current
          const groups = [...groupByDomain(message.recipients)]
          const jobs = groups.map(([domain, recipients]) => {
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
            }
            const partner = active?.lookup.partnerFor(domain)?.name
            const jobId = jobIdFor(messageId, domain)
            return { name: jobNameFor(messageId, domain, partner), data, opts: jobOptions(jobId) }
          })
          const jobIds = jobs.map((j) => j.opts.jobId)
          yield* spool.store(
            messageId,
            { body: message.body, sender: message.sender, headers: headerBlock(message.body), arrivalAt },
            jobIds,
            SPOOL_TTL_MS,
          )
          yield* Effect.tryPromise({ try: () => queue.addBulk(jobs), catch: unavailable("enqueue") }).pipe(
            // Do not leave a body without jobs behind when we can help it; the TTL covers the rest.
            Effect.tapError(() =>
              Effect.forEach(jobIds, (id) => spool.release(messageId, id), { discard: true }).pipe(
                Effect.ignore,
              ),
            ),
          )
          // Stored on the master even when the replicas do not confirm in time: the sender then
          // gets a 4xx and may send again (a duplicate, never a loss).
          yield* replicated
          return { messageId, jobIds }
        })

        const flush = Effect.fn("DeliveryQueue.flush")(function* (filter: FlushFilter) {
          const active = yield* policy.current
          const matches = (data: DeliveryJobData) =>
            (filter.domain === undefined || data.domain === canonicalDomain(filter.domain)) &&
            (filter.partner === undefined || active?.lookup.partnerFor(data.domain)?.name === filter.partner)
          // Scan first, promote after: promoting while paging would shift the pages.
          const matching: Array<Job> = []
          const pageSize = 500
          for (let start = 0; ; start += pageSize) {
            const page = yield* Effect.tryPromise({
              try: () => queue.getDelayed(start, start + pageSize - 1),
              catch: unavailable("flush"),
            })
            for (const job of page) if (job && matches(job.data as DeliveryJobData)) matching.push(job)
            if (page.length < pageSize) break
          }
          let promoted = 0
          for (const job of matching) {
            const ok = yield* Effect.tryPromise({
              try: () => job.promote(),
              catch: unavailable("promote"),
            }).pipe(
              Effect.as(true),
              // A job that left the delayed set meanwhile (it ran, or was removed) is not an error.
              Effect.catchAll(() => Effect.succeed(false)),
            )
            if (ok) promoted++
          }
          return promoted
        })

        const show = Effect.fn("DeliveryQueue.show")(function* (messageId: string) {
          const jobIds = yield* spool.jobIds(messageId)
          if (jobIds.length === 0) return yield* new MessageUnknown({ messageId })
          const bodyStored = yield* spool.exists(messageId)
          const jobs: Array<JobView> = []
          for (const jobId of jobIds) {
            const job = yield* Effect.tryPromise({
              try: () => queue.getJob(jobId),
              catch: unavailable("show"),
            })
            if (!job) continue
            const state = yield* Effect.tryPromise({ try: () => job.getState(), catch: unavailable("show") })
            const logs = yield* Effect.tryPromise({
              try: () => queue.getJobLogs(jobId),
              catch: unavailable("show"),
            })
            jobs.push({ jobId, state: String(state), data: job.data as DeliveryJobData, log: logs.logs })
          }
          return { messageId, bodyStored, jobs }
        })

        const counts = Effect.tryPromise({
          try: () => queue.getJobCounts("waiting", "active", "delayed", "completed", "failed", "prioritized"),
          catch: unavailable("counts"),
        })

        const stats = makeDeliveryStats(spoolConnection, factory.keys)
        return { enqueue, flush, show, counts, spool, stats, queue } satisfies DeliveryQueueShape
      }),
    )

  static layer = DeliveryQueue.layerWith({})
}

const jobOptions = (jobId: string) => ({
  jobId,
  // Timeline delays are not BullMQ retries; these only cover unexpected processor errors
  // (e.g. Redis gone mid-attempt), retried every 30 s.
  attempts: 10_000,
  backoff: { type: "fixed" as const, delay: 30_000 },
  removeOnComplete: { age: 7 * 86_400, count: 100_000 },
  removeOnFail: { age: 30 * 86_400 },
})
