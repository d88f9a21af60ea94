/**
 * `QueueOps`: queue management as Postfix's `postqueue`/`postsuper` offer it — list (mailq),
 * hold, release, retry now, delete (with an NDR or silently) and bounce (return to the sender
 * with the operator's reason), each on message ids or in bulk by a selection, each with a dry
 * run that plans without touching. Every action that ran is written to the audit stream and
 * logged. See docs/operations.md "Queue management".
 *
 * How it stays out of the worker's way, without the worker knowing about holds:
 * - Only jobs that wait for a timeline point (BullMQ `delayed`: deferred or held) are acted on;
 *   a job waiting for a worker or in an attempt is the worker's and is skipped (`in-attempt`).
 * - A hold is the job delayed by `HOLD_DELAY_MS` (a century): BullMQ never hands it to a worker,
 *   and the job's own `delay` field says it is held — the job data, which only the worker
 *   writes, is not touched. Who held it and why is kept beside it in `{prefix}:queue:held`.
 * - Before job data is written (bounce, delete --ndr) the job is first *taken* — moved to the
 *   hold delay, which BullMQ does atomically only for a delayed job — so no worker can run it
 *   while the data is changed; then it is promoted and the worker sends the NDR it now owes.
 *
 * Every shard's queue is listed (one list, sorted by arrival); an action on a job is carried out
 * in the job's own shard. The hold records and the audit stream are fleet-wide, under `{mc}`.
 *
 * Trusts: the Redis named by REDIS_URL. Touches: jobs of the `delivery` queues (delay, data,
 * log, removal), the spool's job list of a deleted job, `queue:held` and `audit`.
 */
import { type ActivePolicyView, PolicyView } from "@mailconnect/policy"
import { RedisClient } from "@mailconnect/redis-client"
import type { Job, JobType, Queue } from "bullmq"
import { Clock, Context, Effect, Either, Layer, Option, Schema } from "effect"
import { BullBoardQueue } from "./bull-queue"
import { QueueUnavailable } from "./errors"
import { type DeliveryJobData, decodeJobData, parseJobId } from "./job"
import { returnToSender } from "./operator-bounce"
import { type AuditEntry, QueueAudit } from "./queue-audit"
import { HOLD_DELAY_MS, isHeldDelay } from "./queue-hold"
import {
  type ActionPlan,
  type HoldRecord,
  matches,
  planAction,
  type QueueAction,
  type QueueEntry,
  type QueueState,
  type Selection,
  type Skipped,
} from "./queue-selection"
import { failFast, Spool } from "./spool"

export interface Actor {
  /** The operator: the OS user of the CLI, the dashboard account. */
  readonly name: string
  readonly via: "cli" | "dashboard"
}

export interface ActRequest {
  readonly action: QueueAction
  readonly selection: Selection
  readonly dryRun: boolean
  readonly actor: Actor
}

export interface ActionReport {
  readonly action: QueueAction
  readonly dryRun: boolean
  readonly selection: Selection
  /** Acted on (a dry run: would be). */
  readonly touched: ReadonlyArray<QueueEntry>
  readonly skipped: ReadonlyArray<Skipped>
  /** The audit stream id; absent for a dry run, or when the audit could not be written (logged). */
  readonly auditId?: string
}

export interface QueueOpsShape {
  readonly list: (selection: Selection) => Effect.Effect<ReadonlyArray<QueueEntry>, QueueUnavailable>
  readonly plan: (action: QueueAction, selection: Selection) => Effect.Effect<ActionPlan, QueueUnavailable>
  readonly act: (request: ActRequest) => Effect.Effect<ActionReport, QueueUnavailable>
}

/**
 * BullMQ's lists a queued job can be in, and what each means here (delayed: deferred or held).
 * Completed jobs are not queued mail; failed ones are, and wait for the operator.
 */
const LISTS: ReadonlyArray<readonly [JobType, QueueState]> = [
  ["active", "active"],
  ["waiting", "waiting"],
  ["prioritized", "waiting"],
  ["delayed", "deferred"],
  ["failed", "failed"],
]

const PAGE = 500

const HoldJson = Schema.parseJson(
  Schema.Struct({
    at: Schema.Number,
    by: Schema.String,
    reason: Schema.optionalWith(Schema.String, { exact: true }),
  }),
)
const decodeHold = Schema.decodeUnknownOption(HoldJson)

interface Listed {
  readonly entry: QueueEntry
  /** The shard whose queue holds the job (its body is in the same shard). */
  readonly shard: number
  readonly job: Job
  /** Absent for a job whose data do not decode (`entry.unreadable`), in whatever state. */
  readonly data: DeliveryJobData | undefined
}

/** The partner named in the job name (`domain partner id`) when the job was queued; `-` for none. */
const partnerAtEnqueue = (name: string): string | undefined => {
  const named = name.split(" ")[1]
  return named === undefined || named === "-" ? undefined : named
}

const iso = (t: number) => new Date(t).toISOString()

/**
 * A job whose data do not decode (written by something other than a relay, or by a newer
 * version), as far as its id and BullMQ's own fields tell: the message and domain its id was
 * built from, when it was queued and how often it ran. An id no relay built names itself as the
 * message, with `?` as the domain (and no body in the spool to release).
 */
const unreadableEntry = (job: Job, state: QueueState, active: ActivePolicyView | undefined): QueueEntry => {
  const id = job.id ?? ""
  const named = parseJobId(id)
  return {
    jobId: id,
    messageId: named?.messageId ?? id,
    domain: named?.domain ?? "?",
    partner: named && active ? active.lookup.partnerFor(named.domain)?.name : partnerAtEnqueue(job.name),
    state,
    sender: "",
    pending: [],
    queuedAt: job.timestamp,
    attempts: job.attemptsMade,
    isDsn: false,
    ...(state === "failed" ? { failedReason: job.failedReason ?? "" } : {}),
    unreadable: true,
  }
}

/** The BullMQ lists that can hold jobs in the selected states (all of them when none is named). */
const listsFor = (selection: Selection) => {
  const states = selection.states ?? []
  return states.length === 0
    ? LISTS
    : LISTS.filter(
        ([, listState]) =>
          states.includes(listState) || (listState === "deferred" && states.includes("held")),
      )
}

const describe = (action: QueueAction, actor: Actor): string => {
  const by = `by ${actor.name} (${actor.via})`
  switch (action.action) {
    case "hold":
      return `held ${by}${action.reason ? `: ${action.reason}` : ""}`
    case "release":
      return `released ${by}`
    case "retry":
      return `retry now ${by}`
    case "delete":
      return `deleted ${by} (${action.notify})${action.reason ? `: ${action.reason}` : ""}`
    case "bounce":
      return `returned to sender ${by}: ${action.reason}`
  }
}

const make = Effect.gen(function* () {
  const { queues } = yield* BullBoardQueue
  const spool = yield* Spool
  const policy = yield* PolicyView
  const audit = yield* QueueAudit
  const redis = yield* RedisClient.connect({ purpose: "queue-ops", ...failFast })
  const heldKey = redis.keys.key("queue", "held")
  const bull = <A>(operation: string, f: () => Promise<A>) =>
    Effect.tryPromise({
      try: f,
      catch: (e) => new QueueUnavailable({ operation, detail: e instanceof Error ? e.message : String(e) }),
    })
  const command = (operation: string, name: string, ...args: ReadonlyArray<string>) =>
    redis
      .call(name, ...args)
      .pipe(Effect.mapError((e) => new QueueUnavailable({ operation, detail: e.detail })))

  const holds = command("hold records", "HGETALL", heldKey).pipe(
    Effect.map((reply) => {
      const flat = reply as ReadonlyArray<string>
      const records = new Map<string, HoldRecord>()
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const record = decodeHold(flat[i + 1])
        if (Option.isSome(record)) records.set(flat[i]!, record.value)
      }
      return records
    }),
  )

  const scan = (queue: Queue, type: JobType) =>
    Effect.gen(function* () {
      const jobs: Array<Job> = []
      for (let start = 0; ; start += PAGE) {
        const page = yield* bull("list", () => queue.getJobs([type], start, start + PAGE - 1, true))
        for (const job of page) if (job) jobs.push(job as Job)
        // Only an empty page ends the list: BullMQ leaves out jobs removed while a page is read,
        // so a short page is not the last one.
        if (page.length === 0) return jobs
      }
    })

  /**
   * Every queued job, as an entry. One whose data do not decode (a newer version's, or written by
   * something other than a relay) is listed by its id and marked unreadable, so the operator sees
   * mail no worker of this version will deliver; only retry and a silent delete act on it.
   */
  const listed = Effect.fn("QueueOps.listed")(function* (selection: Selection) {
    const now = yield* Clock.currentTimeMillis
    const active = yield* policy.current
    const records = yield* holds
    const out: Array<Listed> = []
    const seen = new Set<string>()
    for (const [shard, queue] of queues.entries())
      for (const [type, listState] of listsFor(selection)) {
        for (const job of yield* scan(queue, type)) {
          const id = job.id ?? ""
          // A job can move between lists while they are read one after another.
          if (seen.has(id)) continue
          seen.add(id)
          const decoded = decodeJobData(job.data)
          if (Either.isLeft(decoded)) {
            const entry = unreadableEntry(job, listState, active)
            if (matches(entry, selection, now)) out.push({ entry, shard, job, data: undefined })
            continue
          }
          const data = decoded.right
          const state: QueueState = listState === "deferred" && isHeldDelay(job.delay) ? "held" : listState
          const hold = state === "held" ? records.get(id) : undefined
          const entry: QueueEntry = {
            jobId: id,
            messageId: data.messageId,
            domain: data.domain,
            partner: active ? active.lookup.partnerFor(data.domain)?.name : partnerAtEnqueue(job.name),
            state,
            sender: data.sender,
            pending: data.pending,
            queuedAt: data.queuedAt,
            attempts: data.attemptCount,
            ...(data.nextAttemptAt === undefined ? {} : { nextAttemptAt: data.nextAttemptAt }),
            ...(data.lastFailure ? { code: data.lastFailure.code, status: data.lastFailure.status } : {}),
            isDsn: data.isDsn,
            ...(hold ? { hold } : {}),
            ...(state === "failed" ? { failedReason: job.failedReason ?? "" } : {}),
          }
          if (matches(entry, selection, now)) out.push({ entry, shard, job, data })
        }
      }
    return out.sort(
      (a, b) => a.entry.queuedAt - b.entry.queuedAt || a.entry.jobId.localeCompare(b.entry.jobId),
    )
  })

  /**
   * A BullMQ call that failed because the job moved on (promoted by its timeline, taken by a
   * worker, removed) is told apart from Redis being away by asking the job's state afterwards.
   */
  const orChanged = <A>(operation: string, job: Job, f: () => Promise<A>) =>
    bull(operation, f).pipe(
      Effect.as(true),
      Effect.catchAll((error) =>
        bull("state", () => job.getState()).pipe(
          Effect.as(false),
          Effect.catchAll(() => Effect.fail(error)),
        ),
      ),
    )

  const note = (job: Job, line: string) => Effect.promise(() => job.log(line).catch(() => 0))
  const forget = (jobId: string) => command("hold records", "HDEL", heldKey, jobId)

  /** Takes the job out of any worker's reach, rewrites its data, and hands it back (promoted). */
  const rewrite = (
    queue: Queue,
    job: Job,
    change: (data: DeliveryJobData) => DeliveryJobData,
    line: string,
  ) =>
    Effect.gen(function* () {
      if (!(yield* orChanged("take", job, () => job.changeDelay(HOLD_DELAY_MS)))) return false
      const fresh = yield* bull("read", () => queue.getJob(job.id ?? ""))
      const decoded = decodeJobData(fresh?.data)
      if (Either.isRight(decoded)) yield* bull("rewrite", () => job.updateData(change(decoded.right)))
      yield* note(job, line)
      yield* forget(job.id ?? "")
      yield* bull("promote", () => job.promote())
      return Either.isRight(decoded)
    })

  /** Carries one planned action out on one job; false when the job moved on meanwhile. */
  const carryOut = (request: ActRequest, { job, shard, data, entry }: Listed, now: number) => {
    const queue = queues[shard]!
    const action = request.action
    const line = `${iso(now)} | ${describe(action, request.actor)}`
    switch (action.action) {
      case "hold": {
        const record: HoldRecord = {
          at: now,
          by: `${request.actor.name} (${request.actor.via})`,
          ...(action.reason ? { reason: action.reason } : {}),
        }
        // The record first: a crash after it leaves a stale record, never a hold nobody can see.
        return command("hold", "HSET", heldKey, entry.jobId, JSON.stringify(record)).pipe(
          Effect.zipRight(orChanged("hold", job, () => job.changeDelay(HOLD_DELAY_MS))),
          Effect.tap((held) => (held ? note(job, line) : forget(entry.jobId))),
        )
      }
      case "release": {
        // Back onto its timeline, which kept running during the hold: a point that passed is due now.
        const due = data?.nextAttemptAt === undefined ? 0 : data.nextAttemptAt - now
        return orChanged("release", job, () => (due > 0 ? job.changeDelay(due) : job.promote())).pipe(
          Effect.tap((released) =>
            released ? Effect.zipRight(note(job, line), forget(entry.jobId)) : Effect.void,
          ),
        )
      }
      case "retry":
        // A failed job goes back to the workers as it is; its timeline (in its data) decides again.
        return orChanged("retry", job, () =>
          entry.state === "failed" ? job.retry("failed") : job.promote(),
        ).pipe(Effect.tap((promoted) => (promoted ? note(job, line) : Effect.void)))
      case "bounce":
        return rewrite(queue, job, (d) => returnToSender(d, action.reason, now), line)
      case "delete":
        if (action.notify === "ndr")
          return rewrite(
            queue,
            job,
            (d) => returnToSender(d, action.reason ?? "deleted by the mail system operator", now),
            line,
          )
        return orChanged("delete", job, () => job.remove()).pipe(
          Effect.tap((removed) =>
            !removed
              ? Effect.void
              : // An id no relay built names no message whose body could be released.
                entry.unreadable && parseJobId(entry.jobId) === undefined
                ? forget(entry.jobId)
                : Effect.zipRight(spool.release(entry.messageId, entry.jobId, shard), forget(entry.jobId)),
          ),
        )
    }
  }

  const auditEntry = (
    request: ActRequest,
    report: Omit<ActionReport, "auditId">,
    at: number,
  ): AuditEntry => ({
    at,
    actor: request.actor.name,
    via: request.actor.via,
    action: request.action.action,
    ...(request.action.action === "delete" ? { notify: request.action.notify } : {}),
    ...("reason" in request.action && request.action.reason ? { reason: request.action.reason } : {}),
    selection: { ...request.selection },
    touched: report.touched.length,
    skipped: report.skipped.length,
    jobIds: report.touched.map((e) => e.jobId),
    messageIds: [...new Set(report.touched.map((e) => e.messageId))],
  })

  const list = (selection: Selection) =>
    listed(selection).pipe(Effect.map((items) => items.map((i) => i.entry)))

  const plan = (action: QueueAction, selection: Selection) =>
    list(selection).pipe(Effect.map((entries) => planAction(action, entries)))

  const act = Effect.fn("QueueOps.act")(function* (request: ActRequest) {
    const items = yield* listed(request.selection)
    const planned = planAction(
      request.action,
      items.map((i) => i.entry),
    )
    if (request.dryRun)
      return {
        action: request.action,
        dryRun: true,
        selection: request.selection,
        touched: planned.touch,
        skipped: planned.skip,
      }
    const byId = new Map(items.map((i) => [i.entry.jobId, i]))
    const now = yield* Clock.currentTimeMillis
    const touched: Array<QueueEntry> = []
    const skipped: Array<Skipped> = [...planned.skip]
    for (const entry of planned.touch) {
      const done = yield* carryOut(request, byId.get(entry.jobId)!, now)
      if (done) touched.push(entry)
      else skipped.push({ entry, reason: "changed" })
    }
    const report = { action: request.action, dryRun: false, selection: request.selection, touched, skipped }
    const entry = auditEntry(request, report, now)
    yield* Effect.logInfo("queue action").pipe(Effect.annotateLogs({ audit: JSON.stringify(entry) }))
    const auditId = yield* audit.append(entry).pipe(
      Effect.map(Option.some),
      // The action happened: its report is still the truth. The log line above carries the record.
      Effect.catchAll((error) =>
        Effect.logError("queue action not written to the audit stream").pipe(
          Effect.annotateLogs({ error: error.detail }),
          Effect.as(Option.none<string>()),
        ),
      ),
    )
    return Option.match(auditId, { onNone: () => report, onSome: (id) => ({ ...report, auditId: id }) })
  })

  return { list, plan, act } satisfies QueueOpsShape
})

export class QueueOps extends Context.Tag("@mailconnect/QueueOps")<QueueOps, QueueOpsShape>() {
  /** With the audit stream (also provided); needs `BullBoardQueue`, `Spool`, `PolicyView`. */
  static layer = Layer.scoped(QueueOps, make).pipe(Layer.provideMerge(QueueAudit.layer))
}
