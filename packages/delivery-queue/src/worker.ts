/**
 * `DeliveryWorker`: the BullMQ consumer. Each job is one (message, recipient domain); an attempt
 * looks the policy up at delivery time, delivers through the `Deliverer` (the outbound adapter,
 * whose destinations hold concurrency and breakers per resolved next hop), records every
 * recipient's result in the job *before* anything else (a stalled job re-run never re-sends to a
 * recipient that already got a 250) together with the DSNs it owes and a line in the job log (one
 * script, `job-record.ts`), queues those DSNs and clears the debt, and then either moves the job to delayed at exactly the
 * next timeline point or ends it and releases the spooled body. A DSN that cannot be queued stays
 * owed in the job data and is sent by the job's next run (shortly after, or after a crash).
 *
 * Closing the layer's scope closes the worker, which waits for jobs in progress (the drain) for
 * at most the connection factory's `closeBudget`, then cuts its connections: a job cut short is
 * never acknowledged, its lock lapses and BullMQ's stall check hands it to a worker again.
 *
 * One BullMQ worker per shard (`QueueLayout`), the relay's concurrency split between them; a job's
 * body is read from and released in its own shard.
 *
 * Trusts: the active signed policy bundle. Touches: the `delivery` queues and the spool.
 */
import { DeliveryLog } from "@mailconnect/delivery-log"
import { buildDsn, type DsnLanguage } from "@mailconnect/dsn"
import { type ActivePolicyView, PolicyView } from "@mailconnect/policy"
import { RedisConnectionFactory } from "@mailconnect/redis-client"
import { DelayedError, type Job, UnrecoverableError, Worker } from "bullmq"
import { Clock, Duration, Effect, Either, Layer, Option, Runtime } from "effect"
import { QueueAdmin } from "./admin"
import { type Decision, decideAttempt } from "./attempt"
import { QUEUE_NAME } from "./bull-queue"
import { Enqueue } from "./enqueue"
import { QueueUnavailable } from "./errors"
import {
  type DeliveryJobData,
  decodeJobData,
  dsnMessageIdFor,
  JOB_VERSION,
  jobIdFor,
  jobVersionOf,
  type OwedReport,
} from "./job"
import { type JobQueueOf, recordInJob } from "./job-record"
import { QueueLayout } from "./layout"
import { attemptLine, dsnLine } from "./log-lines"
import { domainOf } from "./message"
import * as metrics from "./metrics"
import { returnToSender } from "./operator-bounce"
import { Deliverer, type DeliveryFailed, type DeliveryReport, DeliveryThrottle, type Route } from "./ports"
import { routeFor } from "./route"
import { Spool } from "./spool"
import { recoverStallFailures } from "./stall-recovery"
import { type DeliveryRecord, DeliveryStats } from "./stats"
import { holdBack, isLimited } from "./throttle"
import { renderTls } from "./tls-record"

export interface WorkerConfig {
  readonly concurrency: number
  /** Our host name: Reporting-MTA and MAILER-DAEMON address of DSNs. */
  readonly reportingMta: string
  /** How long a job waits when no bundle is active yet, or when it needs a newer worker. */
  readonly waitMs?: number
  /**
   * A job's lock; a worker that dies (SIGKILL, power loss) loses it after this long and the job
   * is handed to another worker (at-least-once). Default 30 s.
   */
  readonly lockDurationMs?: number
}

/** Recipients that failed for good in this attempt (its results carry the attempt's time). */
const countFailedAt = (decision: Decision, at: number): number =>
  decision.data.results.filter((r) => r.outcome === "failed" && r.at === at).length

type Outcome =
  | { readonly _tag: "Delay"; readonly at: number }
  | { readonly _tag: "Done"; readonly summary: string }
  | { readonly _tag: "Unrecoverable"; readonly reason: string }

const dsnLanguages = (languages: ReadonlyArray<string>): ReadonlyArray<DsnLanguage> => {
  const known = languages.filter((l): l is DsnLanguage => l === "de" || l === "en")
  return known.length > 0 ? known : ["de", "en"]
}

/**
 * The job processor. `queueOf(shard)` is the BullMQ worker running that shard's jobs: an
 * attempt's record is written on its connection (`job-record.ts`).
 */
export const makeJobProcessor = (config: WorkerConfig, queueOf: (shard: number) => JobQueueOf) =>
  Effect.gen(function* () {
    const queue = yield* Enqueue
    const admin = yield* QueueAdmin
    const spool = yield* Spool
    const stats = yield* DeliveryStats
    const policy = yield* PolicyView
    const deliverer = yield* Deliverer
    const deliveryLog = Option.getOrUndefined(yield* Effect.serviceOption(DeliveryLog))
    const writeLog = deliveryLog ? deliveryLog.write : () => Effect.void
    const throttle = Option.getOrUndefined(yield* Effect.serviceOption(DeliveryThrottle))
    const waitMs = config.waitMs ?? 30_000

    /** Queues the owed DSNs; one already in the queue (a re-run after a crash) is not added again. */
    const sendReports = (
      data: DeliveryJobData,
      owed: ReadonlyArray<OwedReport>,
      languages: ReadonlyArray<string>,
      originalHeaders: string,
    ) =>
      Effect.forEach(
        owed,
        (report) =>
          Effect.gen(function* () {
            const dsnId = dsnMessageIdFor(
              data.messageId,
              report.kind === "delay" ? "delay" : "ndr",
              data.domain,
              report.attempt,
            )
            const queued = yield* admin.hasJob(jobIdFor(dsnId, domainOf(data.sender)))
            if (queued) return
            const dsn = buildDsn({
              kind: report.kind,
              reportingMta: config.reportingMta,
              queueId: data.messageId,
              arrivalAt: data.queuedAt,
              createdAt: report.createdAt,
              sender: data.sender,
              recipients: report.recipients,
              originalHeaders,
              languages: dsnLanguages(languages),
            })
            yield* queue.enqueue({
              messageId: dsnId,
              sender: "",
              recipients: [data.sender],
              body: Buffer.from(dsn.raw, "utf8"),
              isDsn: true,
              arrivalAt: report.createdAt,
            })
            yield* writeLog(dsnLine(data, report, dsnId))
          }),
        { discard: true },
      )

    /**
     * Sends what `data` owes and records that nothing is owed any more. On failure the job keeps
     * owing them (its results are already recorded) and the caller retries the job shortly.
     */
    const settleReports = (
      job: Job,
      data: DeliveryJobData,
      languages: ReadonlyArray<string>,
      originalHeaders: string,
    ) =>
      Effect.gen(function* () {
        const owed = data.reportsOwed ?? []
        if (owed.length === 0) return data
        yield* sendReports(data, owed, languages, originalHeaders)
        const { reportsOwed: _sent, ...settled } = data
        yield* Effect.tryPromise({
          try: () => job.updateData(settled),
          catch: (e) =>
            new QueueUnavailable({
              operation: "record reports sent",
              detail: e instanceof Error ? e.message : String(e),
            }),
        })
        return settled
      })

    const reportsOwedLater = (job: Job, error: QueueUnavailable, now: number) =>
      Effect.gen(function* () {
        yield* Effect.logWarning("delivery report not queued yet; the job retries it").pipe(
          Effect.annotateLogs({ job: job.id, operation: error.operation, error: error.detail }),
        )
        yield* Effect.promise(() =>
          job
            .log(
              `${new Date(now).toISOString()} | reports owed: ${error.operation} failed (${error.detail}); retried in ${waitMs} ms`,
            )
            .catch(() => undefined),
        )
        return { _tag: "Delay", at: now + waitMs } satisfies Outcome
      })

    /**
     * What an attempt's outcome counts: the relay's metrics, and for mail to a partner or a domain
     * without an agreement (not local) the delivery statistics' record.
     */
    const outcomeOf = (
      partner: string | undefined,
      decision: Decision,
      outcome: Either.Either<DeliveryReport, DeliveryFailed>,
      at: number,
    ) => {
      const attempt = decision.data.attempts.at(-1)
      const delivered = attempt?.delivered ?? 0
      const deferred = decision.next._tag === "Delay" ? decision.data.pending.length : 0
      const bounced = countFailedAt(decision, at)
      const code = attempt?.code
      const tls = Either.isRight(outcome) ? outcome.right.tls : outcome.left.tls
      const source = attempt?.source
      const counted = metrics.recordDelivery(partner ?? "(local)", {
        delivered,
        deferred,
        bounced,
        code,
        tls,
        source,
      })
      const statistics: DeliveryRecord | undefined =
        partner === undefined
          ? undefined
          : {
              partner,
              domain: decision.data.domain,
              source,
              at,
              delivered,
              deferred,
              bounced,
              code,
              server: attempt?.server,
              tls: tls === undefined ? undefined : renderTls(tls),
              ...(tls?.peer
                ? {
                    peer: {
                      subject: tls.peer.subject,
                      issuer: tls.peer.issuer,
                      notAfter: tls.peer.notAfter,
                      spkiPin: tls.peer.spkiPin,
                    },
                  }
                : {}),
            }
      return { counted, statistics }
    }

    /** Records the decision, queues the DSNs it owes, and says what happens to the job next. */
    const carryOut = (
      job: Job,
      shard: number,
      data: DeliveryJobData,
      decision: Decision,
      route: Route,
      languages: ReadonlyArray<string>,
      headers: string,
      outcome: Either.Either<DeliveryReport, DeliveryFailed>,
      decidedAt: number,
    ) =>
      Effect.gen(function* () {
        const jobId = job.id ?? ""
        // The recipients' results are in Redis before anything else happens to the job: a re-run
        // after a crash never sends again to a recipient that already got its 250. The DSNs this
        // attempt decided on are recorded in the same write, as owed, and settled after.
        const owed: ReadonlyArray<OwedReport> = decision.reports.map((need) => ({
          kind: need.kind,
          attempt: decision.data.attemptCount,
          createdAt: decidedAt,
          recipients: need.recipients,
        }))
        const recorded: DeliveryJobData =
          owed.length > 0 ? { ...decision.data, reportsOwed: owed } : decision.data
        const { counted, statistics } = outcomeOf(
          route.local ? undefined : (route.policy.partner?.name ?? "-"),
          decision,
          outcome,
          decidedAt,
        )
        // The outcome's statistics ride in the same script, best effort (`job-record.ts`), and so
        // does the spool release of a job done with no report to send (one owing reports releases
        // after them: their headers come from the body).
        const releasing = decision.next._tag === "Done" && owed.length === 0
        const alongside = [
          ...(statistics === undefined ? [] : [stats.recordCall(statistics, shard)]),
          ...(releasing ? [spool.releaseCall(data.messageId, jobId, shard)] : []),
        ]
        yield* Effect.promise(() => recordInJob(queueOf(shard), job, recorded, decision.logLine, alongside))
        yield* counted
        // Once the results are in Redis: the line says what the job records.
        yield* writeLog(attemptLine({ before: data, decision, route, at: decidedAt, headers }))
        const settled = yield* settleReports(job, recorded, languages, headers).pipe(Effect.either)
        if (Either.isLeft(settled)) return yield* reportsOwedLater(job, settled.left, decidedAt)
        if (decision.next._tag === "Delay") return { _tag: "Delay", at: decision.next.at } satisfies Outcome
        if (!releasing) yield* spool.release(data.messageId, jobId, shard)
        return { _tag: "Done", summary: decision.logLine } satisfies Outcome
      })

    /**
     * A failed attempt is not decided on a policy the fleet has already replaced: another relay
     * that activated a newer bundle first may have promoted this very job for it (a new partner,
     * a fixed pin) while this relay still ran the older one. The store is read again; a newer
     * serial there means the attempt is void and the job runs again at once under that serial —
     * not at its next timeline point, nor bounced. Only failures pay for the read.
     */
    const supersededBy = (serial: number) =>
      Effect.map(policy.latest, (latest) =>
        latest !== undefined && latest.serial > serial ? latest.serial : undefined,
      )

    /**
     * One delivery attempt for a job with pending recipients: deliver, decide, carry it out. A
     * partner's limit may hold it back first (`throttle.ts`); what the throttle grants (a session
     * slot) is held until the attempt is carried out — in a scope, opened only for a limited
     * partner (a scope per attempt is CPU for nothing otherwise).
     */
    const attemptDelivery = (job: Job, shard: number, data: DeliveryJobData, now: number) =>
      Effect.gen(function* () {
        const active = yield* policy.current
        if (!active) {
          yield* Effect.promise(() =>
            job.log(`${new Date(now).toISOString()} | no policy bundle active yet; waiting`),
          )
          return { _tag: "Delay", at: now + waitMs } satisfies Outcome
        }
        const route = routeFor(active.lookup, data.domain)
        if (!isLimited(throttle, route)) return yield* attemptOn(job, shard, data, now, active, route)
        return yield* Effect.scoped(
          Effect.gen(function* () {
            const heldBack = yield* holdBack(throttle, job, route, now, waitMs)
            if (heldBack !== undefined) return { _tag: "Delay", at: heldBack } satisfies Outcome
            return yield* attemptOn(job, shard, data, now, active, route)
          }),
        )
      })

    /**
     * A job whose body is gone from the spool (evicted, restored from an older copy, deleted by a
     * Redis writer) can never be delivered: its pending recipients go back to the sender with
     * MESSAGE_LOST — recorded in the job first, the NDR owed and sent as every other NDR (without
     * the original's headers: they went with the body) — not a job failed in silence.
     */
    const returnLost = (
      job: Job,
      shard: number,
      data: DeliveryJobData,
      now: number,
      languages: ReadonlyArray<string>,
    ) =>
      Effect.gen(function* () {
        const lost = returnToSender(
          data,
          "the message's content is missing from the relay's queue",
          now,
          "MESSAGE_LOST",
        )
        const line = `${new Date(now).toISOString()} | message body missing from the spool; returned to the sender (MESSAGE_LOST)`
        yield* Effect.promise(() => recordInJob(queueOf(shard), job, lost, line))
        yield* Effect.logWarning("message body missing from the spool; returned to its sender").pipe(
          Effect.annotateLogs({
            queueId: data.messageId,
            domain: data.domain,
            recipients: data.pending.length,
          }),
        )
        const settled = yield* settleReports(job, lost, languages, "").pipe(Effect.either)
        if (Either.isLeft(settled)) return yield* reportsOwedLater(job, settled.left, now)
        yield* spool.release(data.messageId, job.id ?? "", shard)
        return { _tag: "Done", summary: "message body missing; returned to the sender" } satisfies Outcome
      })

    /** The attempt itself, once no limit holds it back. */
    const attemptOn = (
      job: Job,
      shard: number,
      data: DeliveryJobData,
      now: number,
      active: ActivePolicyView,
      route: Route,
    ) =>
      Effect.gen(function* () {
        const spooled = yield* spool.read(data.messageId, shard)
        if (Option.isNone(spooled)) return yield* returnLost(job, shard, data, now, active.dsnLanguages)
        const outcome = yield* deliverer
          .deliver({
            messageId: data.messageId,
            sender: data.sender,
            recipients: data.pending,
            body: spooled.value.body,
            route,
            serial: active.serial,
            ...(data.requireTls ? { requireTls: true } : {}),
            ...(data.tlsRequiredNo ? { tlsRequiredNo: true } : {}),
            ...(data.tlsReport ? { tlsReport: true } : {}),
          })
          .pipe(Effect.either)
        const decidedAt = yield* Clock.currentTimeMillis
        if (Either.isLeft(outcome)) {
          const superseded = yield* supersededBy(active.serial)
          if (superseded !== undefined) {
            yield* Effect.promise(() =>
              job.log(
                `${new Date(decidedAt).toISOString()} | attempt under serial ${active.serial} failed ` +
                  `(${outcome.left.code} ${outcome.left.status}); serial ${superseded} is active now: ` +
                  "retried under it at once, not counted",
              ),
            )
            return { _tag: "Delay", at: decidedAt } satisfies Outcome
          }
        }
        // A failure to a partner with its own route: did its MX move elsewhere (the route watch)?
        const partnerName = route.policy.partner?.name
        const routeMismatch =
          Either.isLeft(outcome) && partnerName !== undefined && (route.policy.servers?.length ?? 0) > 0
            ? yield* stats.routeMismatchOf(partnerName)
            : undefined
        const decision = decideAttempt({
          data,
          now: decidedAt,
          retry: route.policy.retry,
          serial: active.serial,
          outcome,
          ...(routeMismatch ? { routeMismatch } : {}),
        })
        return yield* carryOut(
          job,
          shard,
          data,
          decision,
          route,
          active.dsnLanguages,
          spooled.value.headers,
          outcome,
          decidedAt,
        )
      })

    /** One run of `job`, a job of shard `shard`'s queue (its body is in the same shard). */
    return Effect.fnUntraced(function* (job: Job, shard: number) {
      const now = yield* Clock.currentTimeMillis
      const version = jobVersionOf(job.data)
      if (version !== undefined && version > JOB_VERSION) {
        yield* Effect.promise(() =>
          job.log(
            `${new Date(now).toISOString()} | job version ${version} needs a newer worker; left for it`,
          ),
        )
        return { _tag: "Delay", at: now + waitMs } satisfies Outcome
      }
      const decoded = decodeJobData(job.data)
      if (decoded._tag === "Left")
        return { _tag: "Unrecoverable", reason: "job data does not match version 1" } satisfies Outcome
      const jobId = job.id ?? ""
      let data = decoded.right
      if ((data.reportsOwed ?? []).length > 0) {
        // An earlier run recorded its results but could not queue its DSNs: send them first.
        const active = yield* policy.current
        const spooled = yield* spool.read(data.messageId, shard).pipe(Effect.either)
        const headers = Either.isRight(spooled)
          ? Option.match(spooled.right, { onNone: () => "", onSome: (m) => m.headers })
          : ""
        const settled = yield* settleReports(job, data, active?.dsnLanguages ?? [], headers).pipe(
          Effect.either,
        )
        if (Either.isLeft(settled)) return yield* reportsOwedLater(job, settled.left, now)
        data = settled.right
        // The retry of the report came before the job's own next timeline point: keep to it.
        if (data.pending.length > 0 && data.nextAttemptAt !== undefined && data.nextAttemptAt > now)
          return { _tag: "Delay", at: data.nextAttemptAt } satisfies Outcome
      }
      if (data.pending.length === 0) {
        yield* spool.release(data.messageId, jobId, shard)
        return { _tag: "Done", summary: "nothing pending" } satisfies Outcome
      }
      return yield* attemptDelivery(job, shard, data, now)
    })
  })

/**
 * How often a job may be taken over after a lost lock before BullMQ gives up on it: never, in
 * effect. BullMQ's default (1) fails a job whose lock lapsed a second time — in its whole life,
 * across days of retries — without running it again: no delivery, no DSN, mail silently stuck in
 * the failed set. Two relay crashes, or a crash and a Redis pause, during the attempts of one
 * message are enough (the chaos soak found it). An attempt here is idempotent (a re-run sends
 * nothing again to a recipient whose result is in the job) and the message's own timeline ends
 * it (NDR at expiry), so a job is always run again; a message that crashes every relay shows as
 * restarts and `delivery job stalled` warnings, never as lost mail.
 */
export const MAX_STALLED_COUNT = Number.MAX_SAFE_INTEGER

/** Cutting the connections of a worker that did not close in time: ioredis only has to drop them. */
const DISCONNECT_WAIT = Duration.millis(500)

/**
 * Closes the worker, waiting for its jobs in progress for at most `budget`. Past it (Redis down,
 * paused or failing over: a job's result cannot be written, BullMQ's own QUIT waits for a reply
 * that never comes) its connections are cut instead. What a cut job already recorded stays (a
 * re-run sends nothing again to a recipient whose 250 is in the job); what it did not is redone:
 * it stays active under a lock nobody renews, so after `lockDuration` the stall check of any
 * worker moves it back to wait (at-least-once), and it is never marked completed or failed here.
 */
const closeWithin = (worker: Worker, budget: Duration.Duration, inProgress: () => number) =>
  Effect.tryPromise(() => worker.close()).pipe(
    Effect.either,
    // Finalizers are uninterruptible; without this the timeout would wait for close() anyway.
    Effect.interruptible,
    Effect.timeoutTo({
      // The cut itself fits in the budget too.
      duration: Duration.max(Duration.zero, Duration.subtract(budget, DISCONNECT_WAIT)),
      onSuccess: Either.isRight,
      onTimeout: () => false,
    }),
    Effect.flatMap((closed) =>
      closed
        ? Effect.void
        : Effect.logWarning("delivery worker not closed within the drain budget; connections cut").pipe(
            Effect.annotateLogs({ jobsLeftForStallRecovery: inProgress() }),
            Effect.zipRight(
              Effect.promise(() => worker.disconnect().catch(() => undefined)).pipe(
                Effect.interruptible,
                Effect.timeout(DISCONNECT_WAIT),
                Effect.ignore,
              ),
            ),
          ),
    ),
  )

/**
 * The global concurrency split over the shards' workers, at least one each: shards fill alike
 * (a message's shard comes from a hash of its id), so each worker gets an equal share. With
 * fewer slots than shards a semaphore still holds the attempts running at once to the relay's
 * concurrency.
 */
export const concurrencyPerShard = (concurrency: number, shards: number): ReadonlyArray<number> =>
  Array.from({ length: shards }, (_, i) =>
    Math.max(1, Math.floor(concurrency / shards) + (i < concurrency % shards ? 1 : 0)),
  )

export class DeliveryWorker {
  /**
   * Runs one BullMQ worker per shard for the lifetime of the layer (`concurrencyPerShard`); closing
   * waits for jobs in progress within the factory's `closeBudget` (see `closeWithin`).
   */
  static layer = (config: WorkerConfig) =>
    Layer.scopedDiscard(
      Effect.gen(function* () {
        const factory = yield* RedisConnectionFactory
        const layout = yield* QueueLayout
        // Filled as the shards' workers start; a worker runs no job before it is in here.
        const workers: Array<Worker> = []
        const process = yield* makeJobProcessor(config, (shard) => workers[shard]!)
        const runtime = yield* Effect.runtime<never>()
        const concurrency = concurrencyPerShard(config.concurrency, layout.shards)
        // Fewer slots than shards: each worker still takes a job, but no more than the relay's
        // concurrency run at once (a job waiting here keeps its lock, renewed by BullMQ).
        // Otherwise the workers' shares add up to the concurrency: no semaphore needed.
        const slots = yield* Effect.makeSemaphore(Math.max(1, config.concurrency))
        const gated =
          config.concurrency < layout.shards
            ? slots.withPermits(1)
            : <A, E, R>(effect: Effect.Effect<A, E, R>) => effect
        let inProgress = 0
        const processorFor = (shard: number) => async (job: Job, token?: string) => {
          inProgress++
          try {
            const outcome = await Runtime.runPromise(runtime)(gated(process(job, shard)))
            switch (outcome._tag) {
              case "Delay":
                await job.moveToDelayed(outcome.at, token)
                throw new DelayedError()
              case "Unrecoverable":
                throw new UnrecoverableError(outcome.reason)
              case "Done":
                return outcome.summary
            }
          } finally {
            inProgress--
          }
        }
        const start = (shard: number) =>
          Effect.gen(function* () {
            // A worker's blocking connection is its own (BullMQ duplicates it); one per shard.
            const connection = yield* factory.connect({
              purpose: shard === 0 ? "worker" : `worker-${shard}`,
              maxRetriesPerRequest: null,
            })
            yield* Effect.acquireRelease(
              Effect.sync(() => {
                const worker = new Worker(QUEUE_NAME, processorFor(shard), {
                  connection,
                  prefix: layout.tagOf(shard),
                  concurrency: concurrency[shard]!,
                  lockDuration: config.lockDurationMs ?? 30_000,
                  stalledInterval: config.lockDurationMs ?? 30_000,
                  maxStalledCount: MAX_STALLED_COUNT,
                })
                // Before its first job: that is fetched asynchronously, after this returns.
                workers[shard] = worker
                worker.on("error", (error) =>
                  Runtime.runFork(runtime)(Effect.logWarning(`delivery worker: ${error.message}`)),
                )
                worker.on("stalled", (jobId) =>
                  Runtime.runFork(runtime)(
                    Effect.logWarning("delivery job stalled: its lock lapsed, run again").pipe(
                      Effect.annotateLogs({ jobId, shard }),
                    ),
                  ),
                )
                return worker
              }),
              (worker) =>
                Effect.flatMap(factory.closeBudget, (budget) =>
                  closeWithin(worker, budget, () => inProgress),
                ),
            )
          })
        // Closed all at once (each within the budget), not one after the other.
        yield* Effect.forEach(layout.all, start, { discard: true, concurrentFinalizers: true })
        yield* Effect.forkScoped(
          recoverStallFailures.pipe(
            Effect.tap((retried) =>
              retried > 0
                ? Effect.logWarning("jobs an older version failed for lapsed locks, taken up again").pipe(
                    Effect.annotateLogs({ retried }),
                  )
                : Effect.void,
            ),
            Effect.catchAll((error) => Effect.logWarning("stall-failed jobs not looked for", error)),
          ),
        )
      }),
    )
}
