/**
 * `DeliveryWorker`: the BullMQ consumer. Each job is one (message, recipient domain); an attempt
 * looks the policy up at delivery time, delivers through the destination's actor, records every
 * recipient's result in the job *before* anything else (a stalled job re-run never re-sends to a
 * recipient that already got a 250), appends a line to the job log, sends DSNs through the normal
 * queue, and then either moves the job to delayed at exactly the next timeline point or ends it
 * and releases the spooled body.
 *
 * Closing the layer's scope closes the worker, which waits for jobs in progress: the drain.
 *
 * Trusts: the active signed policy bundle. Touches: the `delivery` queue and the spool.
 */
import { buildDsn, type DsnLanguage } from "@mailconnect/dsn"
import { RedisConnectionFactory } from "@mailconnect/redis-client"
import { DelayedError, type Job, UnrecoverableError, Worker } from "bullmq"
import { Clock, Effect, Either, Layer, Option, Runtime } from "effect"
import { DestinationActors, destinationKey } from "./actors"
import { type Decision, type DsnNeed, decideAttempt } from "./attempt"
import { type DeliveryJobData, decodeJobData, dsnMessageIdFor, JOB_VERSION, jobVersionOf } from "./job"
import * as metrics from "./metrics"
import { Deliverer, type DeliveryFailed, type DeliveryReport, PolicyView } from "./ports"
import { DeliveryQueue, QUEUE_NAME } from "./queue"
import { routeFor } from "./route"

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

export const makeJobProcessor = (config: WorkerConfig) =>
  Effect.gen(function* () {
    const queue = yield* DeliveryQueue
    const policy = yield* PolicyView
    const deliverer = yield* Deliverer
    const actors = yield* DestinationActors
    const waitMs = config.waitMs ?? 30_000

    const sendReports = (
      data: DeliveryJobData,
      decision: Decision,
      now: number,
      languages: ReadonlyArray<string>,
      originalHeaders: string,
    ) =>
      Effect.forEach(
        decision.reports,
        (need: DsnNeed) =>
          Effect.gen(function* () {
            const dsn = buildDsn({
              kind: need.kind,
              reportingMta: config.reportingMta,
              queueId: data.messageId,
              arrivalAt: data.queuedAt,
              createdAt: now,
              sender: data.sender,
              recipients: need.recipients,
              originalHeaders,
              languages: dsnLanguages(languages),
            })
            // Deterministic id: a re-run of this attempt adds the same DSN job, which BullMQ ignores.
            const kind = need.kind === "delay" ? "delay" : "ndr"
            yield* queue.enqueue({
              messageId: dsnMessageIdFor(data.messageId, kind, data.domain, decision.data.attemptCount),
              sender: "",
              recipients: [data.sender],
              body: Buffer.from(dsn.raw, "utf8"),
              isDsn: true,
              arrivalAt: now,
            })
          }),
        { discard: true },
      )

    const recordOutcome = (
      partner: string | undefined,
      decision: Decision,
      outcome: Either.Either<DeliveryReport, DeliveryFailed>,
      at: number,
    ) =>
      Effect.gen(function* () {
        const attempt = decision.data.attempts.at(-1)
        const delivered = attempt?.delivered ?? 0
        const deferred = decision.next._tag === "Delay" ? decision.data.pending.length : 0
        const bounced = countFailedAt(decision, at)
        const code = attempt?.code
        const tls = Either.isRight(outcome) ? outcome.right.tls : outcome.left.tls
        yield* metrics.recordDelivery(partner ?? "(local)", { delivered, deferred, bounced, code, tls })
        if (partner !== undefined)
          yield* queue.stats.record({
            partner,
            at,
            delivered,
            deferred,
            bounced,
            code,
            server: attempt?.server,
            tls,
          })
      })

    return Effect.fn("DeliveryWorker.process")(function* (job: Job) {
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
      const data = decoded.right
      const jobId = job.id ?? ""
      if (data.pending.length === 0) {
        yield* queue.spool.release(data.messageId, jobId)
        return { _tag: "Done", summary: "nothing pending" } satisfies Outcome
      }
      const active = yield* policy.current
      if (!active) {
        yield* Effect.promise(() =>
          job.log(`${new Date(now).toISOString()} | no policy bundle active yet; waiting`),
        )
        return { _tag: "Delay", at: now + waitMs } satisfies Outcome
      }
      const route = routeFor(active.lookup, data.domain)
      const spooled = yield* queue.spool.read(data.messageId)
      if (Option.isNone(spooled)) {
        yield* Effect.promise(() =>
          job.log(`${new Date(now).toISOString()} | message body missing from the spool`),
        )
        return { _tag: "Unrecoverable", reason: "message body missing from the spool" } satisfies Outcome
      }
      const outcome = yield* actors
        .run(
          destinationKey(route),
          deliverer.deliver({
            messageId: data.messageId,
            sender: data.sender,
            recipients: data.pending,
            body: spooled.value.body,
            route,
            serial: active.serial,
          }),
        )
        .pipe(Effect.either)
      const decidedAt = yield* Clock.currentTimeMillis
      const decision = decideAttempt({
        data,
        now: decidedAt,
        retry: route.policy.retry,
        serial: active.serial,
        outcome,
      })
      // The recipients' results are in Redis before anything else happens to the job: a re-run
      // after a crash never sends again to a recipient that already got its 250.
      yield* Effect.promise(() => Promise.all([job.updateData(decision.data), job.log(decision.logLine)]))
      yield* sendReports(data, decision, decidedAt, active.dsnLanguages, spooled.value.headers)
      const record = recordOutcome(
        route.local ? undefined : (route.policy.partner?.name ?? "-"),
        decision,
        outcome,
        decidedAt,
      )
      if (decision.next._tag === "Delay") {
        yield* record
        return { _tag: "Delay", at: decision.next.at } satisfies Outcome
      }
      yield* Effect.all([queue.spool.release(data.messageId, jobId), record], {
        concurrency: "unbounded",
        discard: true,
      })
      return { _tag: "Done", summary: decision.logLine } satisfies Outcome
    })
  })

export class DeliveryWorker {
  /** Runs the worker for the lifetime of the layer; closing waits for jobs in progress. */
  static layer = (config: WorkerConfig) =>
    Layer.scopedDiscard(
      Effect.gen(function* () {
        const factory = yield* RedisConnectionFactory
        const process = yield* makeJobProcessor(config)
        const runtime = yield* Effect.runtime<never>()
        const connection = yield* factory.connect({ purpose: "worker", maxRetriesPerRequest: null })
        const processor = async (job: Job, token?: string) => {
          const outcome = await Runtime.runPromise(runtime)(process(job))
          switch (outcome._tag) {
            case "Delay":
              await job.moveToDelayed(outcome.at, token)
              throw new DelayedError()
            case "Unrecoverable":
              throw new UnrecoverableError(outcome.reason)
            case "Done":
              return outcome.summary
          }
        }
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            const worker = new Worker(QUEUE_NAME, processor, {
              connection,
              prefix: factory.keys.tag,
              concurrency: config.concurrency,
              lockDuration: config.lockDurationMs ?? 30_000,
              stalledInterval: config.lockDurationMs ?? 30_000,
            })
            worker.on("error", (error) =>
              Runtime.runFork(runtime)(Effect.logWarning(`delivery worker: ${error.message}`)),
            )
            return worker
          }),
          (worker) => Effect.promise(() => worker.close()),
        )
      }),
    )
}
