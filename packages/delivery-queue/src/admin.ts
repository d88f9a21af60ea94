/**
 * `QueueAdmin`: the operator's view of the queue — promote waiting mail (`queue flush`, the
 * targeted flush after a policy change), show one message's jobs (`queue show`), job counts
 * (gauges, heartbeat), and whether a job is queued (the worker's DSN de-duplication). Mail an
 * operator put on hold (`QueueOps`) is never flushed: only a release ends a hold. Every shard's
 * queue is asked: flushes and counts cover (and sum) them all, a message is found in its shard.
 *
 * Trusts: the Redis named by REDIS_URL. Touches: the `delivery` queues (promote only) and reads
 * the spool's job lists.
 */
import { PolicyView } from "@mailconnect/policy"
import type { Queue } from "bullmq"
import { Context, Effect, Either, Layer } from "effect"
import { BullQueue, unavailable } from "./bull-queue"
import { MessageUnknown, type QueueUnavailable } from "./errors"
import { type DeliveryJobData, decodeJobData, parseJobId } from "./job"
import { QueueLayout } from "./layout"
import { canonicalDomain } from "./message"
import { isHeldDelay } from "./queue-hold"
import { Spool } from "./spool"

export interface JobView {
  readonly jobId: string
  readonly state: string
  readonly data: DeliveryJobData
  /** Why BullMQ failed the job (failed jobs only). */
  readonly failedReason?: string
  readonly log: ReadonlyArray<string>
}

/** A job whose data do not decode (written by something else, or by a newer version). */
export interface UnreadableJobView {
  readonly jobId: string
  readonly state: string
  readonly failedReason?: string
  readonly log: ReadonlyArray<string>
}

export interface MessageView {
  readonly messageId: string
  readonly bodyStored: boolean
  readonly jobs: ReadonlyArray<JobView>
  /** Its jobs whose data this version cannot read: shown by id, state and log, never as data. */
  readonly unreadable: ReadonlyArray<UnreadableJobView>
}

export interface FlushFilter {
  readonly domain?: string
  readonly partner?: string
}

export interface QueueAdminShape {
  /** Promotes matching delayed jobs so they are tried now; returns how many. */
  readonly flush: (filter: FlushFilter) => Effect.Effect<number, QueueUnavailable>
  readonly show: (messageId: string) => Effect.Effect<MessageView, QueueUnavailable | MessageUnknown>
  readonly counts: Effect.Effect<Readonly<Record<string, number>>, QueueUnavailable>
  readonly hasJob: (jobId: string) => Effect.Effect<boolean, QueueUnavailable>
}

const PAGE = 500

export class QueueAdmin extends Context.Tag("@mailconnect/QueueAdmin")<QueueAdmin, QueueAdminShape>() {
  static layer = Layer.effect(
    QueueAdmin,
    Effect.gen(function* () {
      const { queues } = yield* BullQueue
      const layout = yield* QueueLayout
      const spool = yield* Spool
      const policy = yield* PolicyView
      const attempt = <A>(operation: string, f: () => Promise<A>) =>
        Effect.tryPromise({ try: f, catch: unavailable(operation) })

      /**
       * Scan first, promote after: promoting while paging would shift the pages. Only the ids are
       * kept (a page of jobs at a time), not every `Job` with its data and attempts at once:
       * a flush of 100,000 waiting jobs otherwise holds them all in the relay's heap.
       */
      const delayedMatching = (queue: Queue, matches: (data: DeliveryJobData) => boolean) =>
        Effect.gen(function* () {
          const matching: Array<{ readonly queue: Queue; readonly id: string }> = []
          for (let start = 0; ; start += PAGE) {
            const page = yield* attempt("flush", () => queue.getDelayed(start, start + PAGE - 1))
            for (const job of page)
              if (job?.id && !isHeldDelay(job.delay) && matches(job.data as DeliveryJobData))
                matching.push({ queue, id: job.id })
            if (page.length < PAGE) return matching
          }
        })

      const flush = Effect.fn("QueueAdmin.flush")(function* (filter: FlushFilter) {
        const active = yield* policy.current
        const matches = (data: DeliveryJobData) =>
          (filter.domain === undefined || data.domain === canonicalDomain(filter.domain)) &&
          (filter.partner === undefined || active?.lookup.partnerFor(data.domain)?.name === filter.partner)
        const matching = (yield* Effect.forEach(queues, (queue) => delayedMatching(queue, matches))).flat()
        const promoted = yield* Effect.forEach(matching, ({ queue, id }) =>
          attempt("promote", () => queue.backend.promote(id)).pipe(
            Effect.as(true),
            // A job that left the delayed set meanwhile (it ran, or was removed) is not an error.
            Effect.catchAll(() => Effect.succeed(false)),
          ),
        )
        return promoted.filter(Boolean).length
      })

      const jobView = (queue: Queue, jobId: string) =>
        Effect.gen(function* () {
          const job = yield* attempt("show", () => queue.getJob(jobId))
          if (!job) return undefined
          const state = yield* attempt("show", () => job.getState())
          const logs = yield* attempt("show", () => queue.getJobLogs(jobId))
          const decoded = decodeJobData(job.data)
          const view: UnreadableJobView = {
            jobId,
            state: String(state),
            ...(state === "failed" ? { failedReason: job.failedReason ?? "" } : {}),
            log: logs.logs,
          }
          // Shown as stored (the decoded form may differ in defaults), once it is known to decode.
          return Either.isRight(decoded)
            ? ({ ...view, data: job.data as DeliveryJobData } satisfies JobView)
            : view
        })

      const show = Effect.fn("QueueAdmin.show")(function* (messageId: string) {
        const located = yield* spool.locate(messageId)
        if (located._tag === "None" || located.value.jobIds.length === 0)
          return yield* new MessageUnknown({ messageId })
        const { shard, jobIds } = located.value
        const bodyStored = yield* spool.exists(messageId, shard)
        const views = yield* Effect.forEach(jobIds, (id) => jobView(queues[shard]!, id))
        const jobs: Array<JobView> = []
        const unreadable: Array<UnreadableJobView> = []
        for (const view of views)
          if (view !== undefined) "data" in view ? jobs.push(view) : unreadable.push(view)
        return { messageId, bodyStored, jobs, unreadable }
      })

      const counts = Effect.forEach(queues, (queue) =>
        attempt("counts", () =>
          queue.getJobCounts("waiting", "active", "delayed", "completed", "failed", "prioritized"),
        ),
      ).pipe(
        Effect.map((perShard) => {
          const sum: Record<string, number> = {}
          for (const counts of perShard)
            for (const [state, n] of Object.entries(counts)) sum[state] = (sum[state] ?? 0) + n
          return sum
        }),
      )
      /** In the message's own shard first; the others only when it is not there. */
      const hasJob = (jobId: string) =>
        Effect.gen(function* () {
          const messageId = parseJobId(jobId)?.messageId
          const order = messageId === undefined ? layout.all : layout.lookupOrder(messageId)
          for (const shard of order) {
            const job = yield* attempt("dsn lookup", () => queues[shard]!.getJob(jobId))
            if (job !== undefined && job !== null) return true
          }
          return false
        })
      return { flush, show, counts, hasJob }
    }),
  )
}
