/**
 * Jobs an older relay version failed for lapsed locks, taken up again. Before
 * `MAX_STALLED_COUNT` (worker.ts) was unlimited, BullMQ's default failed a job the second time
 * its lock lapsed — two relay crashes or a crash and a Redis pause within the days of its
 * retries — without running it: no delivery, no DSN, its body left in the spool. A relay that
 * starts finds such jobs (BullMQ's own failure reason, nothing else) and retries each: its
 * timeline, kept in its data, decides again — delivery, the next point, or the NDR when it has
 * run out. A job failed for any other reason (data no worker can read, a body gone) stays for
 * the operator. Relays starting together may race for a job: BullMQ retries it once.
 */
import type { Job, Queue } from "bullmq"
import { Clock, Effect } from "effect"
import { BullBoardQueue } from "./bull-queue"

/** BullMQ's failure reason for a job whose lock lapsed more than `maxStalledCount` times. */
export const STALL_LIMIT_REASON = "job stalled more than allowable limit"

const PAGE = 500

/** The queue's jobs BullMQ failed for its stall limit, read a page at a time; only those are kept. */
const stallFailed = (queue: Queue) =>
  Effect.gen(function* () {
    const found: Array<Job> = []
    for (let start = 0; ; start += PAGE) {
      const page = yield* Effect.tryPromise(() => queue.getFailed(start, start + PAGE - 1))
      for (const job of page) if (job?.failedReason === STALL_LIMIT_REASON) found.push(job)
      if (page.length < PAGE) return found
    }
  })

/** Retries them in every shard's queue; the number retried (a job another relay took first is not counted). */
export const recoverStallFailures = Effect.gen(function* () {
  const { queues } = yield* BullBoardQueue
  const now = new Date(yield* Clock.currentTimeMillis).toISOString()
  let retried = 0
  for (const queue of queues)
    for (const job of yield* stallFailed(queue)) {
      const taken = yield* Effect.tryPromise(() => job.retry("failed")).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false),
      )
      if (!taken) continue
      retried++
      yield* Effect.promise(() =>
        job
          .log(`${now} | failed by an older version's stall limit without an attempt; taken up again`)
          .catch(() => 0),
      )
    }
  return retried
})
