/**
 * The outcome of one delivery attempt, as a pure decision: which recipients are final, whether
 * a delay warning or an NDR is due, and when to try again. The worker only carries it out.
 * Small steps, composed in `decideAttempt`: apply the replies (or the session failure), apply
 * the timeline, the reports owed, the job data, the log line.
 */
import type { DsnRecipient } from "@mailconnect/dsn"
import { shouldReport } from "@mailconnect/dsn"
import { describeReason } from "@mailconnect/failure-codes"
import type { RetryPolicy } from "@mailconnect/policy"
import { afterTemporaryFailure, computeTimeline } from "@mailconnect/retry-timeline"
import { Either } from "effect"
import { type DeliveryJobData, type LastFailure, MAX_ATTEMPTS_KEPT, type RecipientResult } from "./job"
import type { DeliveryFailed, DeliveryReport, PolicySource } from "./ports"
import { describeRouteMismatch, type RouteCheck } from "./route-check"
import { renderTls, type TlsRecord } from "./tls-record"

export interface AttemptInput {
  readonly data: DeliveryJobData
  readonly now: number
  readonly retry: RetryPolicy
  readonly serial: number
  readonly outcome: Either.Either<DeliveryReport, DeliveryFailed>
  /** The fleet's last route check of the partner, when it found the MX moved away from the route. */
  readonly routeMismatch?: RouteCheck
}

export interface DsnNeed {
  readonly kind: "delay" | "failure"
  readonly recipients: ReadonlyArray<DsnRecipient>
}

export type Next = { readonly _tag: "Delay"; readonly at: number } | { readonly _tag: "Done" }

export interface Decision {
  readonly data: DeliveryJobData
  readonly logLine: string
  readonly reports: ReadonlyArray<DsnNeed>
  readonly next: Next
}

const iso = (t: number) => new Date(t).toISOString()

/** Where the job's recipients stand after one attempt's replies (or its session failure). */
export interface Applied {
  readonly pending: ReadonlyArray<string>
  readonly results: ReadonlyArray<RecipientResult>
  /** Recipients that failed for good in this attempt: the NDR's recipients. */
  readonly failedNow: ReadonlyArray<DsnRecipient>
  readonly lastFailure: LastFailure | undefined
  readonly server: string | undefined
  readonly tls: TlsRecord | null | undefined
  readonly source?: PolicySource
  readonly delivered: number
}

/** Step 1a: each pending recipient's reply — 2xx delivered, 5xx failed at once, else still pending. */
export const applyReplies = (data: DeliveryJobData, report: DeliveryReport, now: number): Applied => {
  const server = report.server
  const replies = new Map(report.recipients.map((r) => [r.recipient, r]))
  const results: Array<RecipientResult> = [...data.results]
  const failedNow: Array<DsnRecipient> = []
  const pending: Array<string> = []
  let lastFailure = data.lastFailure
  let delivered = 0
  for (const recipient of data.pending) {
    const reply = replies.get(recipient)
    if (reply?.accepted) {
      delivered++
      results.push({
        recipient,
        outcome: "delivered",
        at: now,
        status: reply.status,
        reply: reply.reply,
        server,
      })
    } else if (reply?.permanent) {
      const code = "SMTP_PERMANENT" as const
      results.push({
        recipient,
        outcome: "failed",
        at: now,
        status: reply.status,
        code,
        reply: reply.reply,
        server,
      })
      failedNow.push({
        address: recipient,
        action: "failed",
        status: reply.status,
        code,
        smtpReply: reply.reply,
        remoteMta: server,
        lastAttemptAt: now,
      })
    } else {
      pending.push(recipient)
      lastFailure = {
        code: "SMTP_TRANSIENT",
        status: reply?.status ?? "4.0.0",
        at: now,
        server,
        ...(reply ? { reply: reply.reply } : {}),
      }
    }
  }
  return {
    pending,
    results,
    failedNow,
    lastFailure,
    server,
    tls: report.tls,
    ...(report.source ? { source: report.source } : {}),
    delivered,
  }
}

/** Step 1b: a session failure — the cause is recorded; a permanent one fails every pending recipient. */
export const applyFailure = (data: DeliveryJobData, f: DeliveryFailed, now: number): Applied => {
  const lastFailure: LastFailure = {
    code: f.code,
    status: f.status,
    at: now,
    ...(f.server === undefined ? {} : { server: f.server }),
    ...(f.reply === undefined ? {} : { reply: f.reply }),
    ...(f.detail === undefined ? {} : { detail: f.detail }),
    ...(f.reason === undefined ? {} : { reason: f.reason }),
    ...(f.source === undefined ? {} : { source: f.source }),
  }
  const unchanged = { pending: data.pending, results: data.results, failedNow: [] }
  const bounced =
    f.retry === "bounce"
      ? {
          pending: [],
          results: [
            ...data.results,
            ...data.pending.map(
              (recipient): RecipientResult => ({
                recipient,
                outcome: "failed",
                at: now,
                status: f.status,
                code: f.code,
                ...(f.reply ? { reply: f.reply } : {}),
                ...(f.server ? { server: f.server } : {}),
              }),
            ),
          ],
          failedNow: data.pending.map((r) => dsnRecipient(r, "failed", f.status, lastFailure, now)),
        }
      : unchanged
  return {
    ...bounced,
    lastFailure,
    server: f.server,
    tls: f.tls,
    ...(f.source ? { source: f.source } : {}),
    delivered: 0,
  }
}

/** Step 1c: a failure to a partner whose MX moved away from its route says so (in the NDR too). */
const withRoute = (applied: Applied, route: RouteCheck | undefined): Applied =>
  route === undefined || !route.mismatch || applied.lastFailure === undefined
    ? applied
    : {
        ...applied,
        lastFailure: { ...applied.lastFailure, route },
        failedNow: applied.failedNow.map((r) => ({
          ...r,
          detail: [r.detail, describeRouteMismatch(route)].filter(Boolean).join("; "),
        })),
      }

/** After the timeline: the recipients, and when (if ever) the job is tried again. */
export interface Timed {
  readonly applied: Applied
  readonly next: Next
  /** Set when this attempt crossed the warning point: the delay warning names this expiry. */
  readonly warnUntil: number | undefined
}

/** Step 2: still-pending recipients wait for the next timeline point, or fail at the expiry. */
export const applyTimeline = (
  data: DeliveryJobData,
  applied: Applied,
  retry: RetryPolicy,
  now: number,
): Timed => {
  const lastFailure = applied.lastFailure
  if (applied.pending.length === 0 || !lastFailure)
    return { applied, next: { _tag: "Done" }, warnUntil: undefined }
  const timeline = computeTimeline(data.queuedAt, retry)
  const verdict = afterTemporaryFailure(timeline, now, data.warned)
  if (verdict._tag !== "Expire")
    return {
      applied,
      next: { _tag: "Delay", at: verdict.at },
      warnUntil: verdict.warn ? timeline.expireAt : undefined,
    }
  const expired = applied.pending.map(
    (recipient): RecipientResult => ({
      recipient,
      outcome: "failed",
      at: now,
      status: "5.4.7",
      code: lastFailure.code,
      ...(lastFailure.reply ? { reply: lastFailure.reply } : {}),
      ...(lastFailure.server ? { server: lastFailure.server } : {}),
    }),
  )
  const failed = applied.pending.map((recipient) => ({
    ...dsnRecipient(recipient, "failed", "5.4.7", lastFailure, now),
    detail: expiredDetail(lastFailure, now - data.queuedAt),
  }))
  return {
    applied: {
      ...applied,
      pending: [],
      results: [...applied.results, ...expired],
      failedNow: [...applied.failedNow, ...failed],
    },
    next: { _tag: "Done" },
    warnUntil: undefined,
  }
}

/** Step 3: the DSNs owed — a delay warning at the warning point, an NDR for recipients failed now. */
export const reportsOwed = (
  data: DeliveryJobData,
  { applied, warnUntil }: Timed,
  now: number,
): ReadonlyArray<DsnNeed> => {
  if (data.isDsn || !shouldReport(data.sender)) return []
  const lastFailure = applied.lastFailure
  const delay: ReadonlyArray<DsnNeed> =
    warnUntil !== undefined && lastFailure
      ? [
          {
            kind: "delay",
            recipients: applied.pending.map((r) => ({
              ...dsnRecipient(r, "delayed", lastFailure.status, lastFailure, now),
              willRetryUntil: warnUntil,
            })),
          },
        ]
      : []
  const failure: ReadonlyArray<DsnNeed> =
    applied.failedNow.length > 0 ? [{ kind: "failure", recipients: applied.failedNow }] : []
  return [...delay, ...failure]
}

/** The failure code this attempt is recorded with: none when everyone got a 250. */
const attemptCode = ({ pending, failedNow, lastFailure }: Applied) =>
  pending.length > 0 || failedNow.length > 0 ? lastFailure?.code : undefined

/** Step 4: the job data after the attempt (results first: a re-run never re-sends). */
export const recordAttempt = (
  data: DeliveryJobData,
  { applied, next, warnUntil }: Timed,
  serial: number,
  now: number,
): DeliveryJobData => {
  const code = attemptCode(applied)
  const attempt = {
    at: now,
    serial,
    delivered: applied.delivered,
    ...(code === undefined ? {} : { code }),
    ...(applied.server === undefined ? {} : { server: applied.server }),
    ...(applied.tls === undefined ? {} : { tls: applied.tls }),
    ...(applied.source === undefined ? {} : { source: applied.source }),
  }
  return {
    ...data,
    pending: applied.pending,
    results: applied.results,
    warned: data.warned || warnUntil !== undefined,
    attemptCount: data.attemptCount + 1,
    attempts: [...data.attempts, attempt].slice(-MAX_ATTEMPTS_KEPT),
    ...(applied.lastFailure === undefined ? {} : { lastFailure: applied.lastFailure }),
    ...(next._tag === "Delay" ? { nextAttemptAt: next.at } : { nextAttemptAt: undefined }),
  }
}

/** Step 5: the job log line, e.g. `… | attempt 2 | serial 7 | server mx:25 | CERT_EXPIRED 4.7.5 | …`. */
export const renderLogLine = (
  { applied, next }: Timed,
  reports: ReadonlyArray<DsnNeed>,
  attemptCount: number,
  serial: number,
  now: number,
  /** What the sender asked of TLS (RFC 8689), from the job data. */
  demand: Pick<DeliveryJobData, "requireTls" | "tlsRequiredNo"> = {},
): string => {
  const { server, tls, source, delivered, failedNow, lastFailure } = applied
  const code = attemptCode(applied)
  return [
    iso(now),
    `attempt ${attemptCount}`,
    `serial ${serial}`,
    `server ${server ?? "-"}`,
    code ? `${code} ${lastFailure?.status ?? ""}`.trim() : "ok",
    `delivered ${delivered}`,
    ...(failedNow.length > 0 ? [`failed ${failedNow.length}`] : []),
    ...(tls !== undefined ? [`tls ${renderTls(tls)}`] : []),
    ...(source !== undefined ? [`source ${source}`] : []),
    ...(demand.requireTls ? ["requiretls"] : []),
    ...(demand.tlsRequiredNo ? ["tls-required-no"] : []),
    ...(code && lastFailure?.reply ? [`reply ${JSON.stringify(lastFailure.reply)}`] : []),
    ...(code && lastFailure && failureText(lastFailure)
      ? [`detail ${JSON.stringify(failureText(lastFailure))}`]
      : []),
    next._tag === "Delay" ? `next ${iso(next.at)}` : "done",
    ...reports.map((r) => (r.kind === "delay" ? "delay-dsn" : "ndr")),
  ].join(" | ")
}

/** The steps composed: replies → timeline → reports owed → job data → log line. */
export const decideAttempt = ({
  data,
  now,
  retry,
  serial,
  outcome,
  routeMismatch,
}: AttemptInput): Decision => {
  const applied = Either.isRight(outcome)
    ? applyReplies(data, outcome.right, now)
    : withRoute(applyFailure(data, outcome.left, now), routeMismatch)
  const timed = applyTimeline(data, applied, retry, now)
  const reports = reportsOwed(data, timed, now)
  const next = recordAttempt(data, timed, serial, now)
  return {
    data: next,
    logLine: renderLogLine(timed, reports, next.attemptCount, serial, now, data),
    reports,
    next: timed.next,
  }
}

const dsnRecipient = (
  address: string,
  action: "delayed" | "failed",
  status: string,
  failure: LastFailure,
  now: number,
): DsnRecipient =>
  withDetail(failureText(failure), {
    address,
    action,
    status,
    code: failure.code,
    lastAttemptAt: now,
    ...(failure.server === undefined ? {} : { remoteMta: failure.server }),
    ...(failure.reply === undefined ? {} : { smtpReply: failure.reply }),
  })

const withDetail = (detail: string | undefined, r: DsnRecipient): DsnRecipient =>
  detail === undefined ? r : { ...r, detail }

const SOURCE_TEXT = { dane: "DANE (RFC 7672)", "mta-sts": "MTA-STS (RFC 8461)" } as const

/**
 * The failure's own words, then what its structured reason adds (e.g. a pin diagnosis), then
 * which standard required the authentication that failed (partner policy and none say nothing).
 */
export const failureText = (failure: LastFailure): string | undefined => {
  const added = failure.reason ? describeReason(failure.reason) : undefined
  const source =
    failure.source === "dane" || failure.source === "mta-sts"
      ? `TLS required by the recipient's ${SOURCE_TEXT[failure.source]}`
      : undefined
  const route = failure.route?.mismatch ? describeRouteMismatch(failure.route) : undefined
  return (
    [failure.detail, added, source, route].filter((part) => part !== undefined && part !== "").join("; ") ||
    undefined
  )
}

const expiredDetail = (failure: LastFailure, ageMs: number): string => {
  const days = Math.round((ageMs / 86_400_000) * 10) / 10
  return `gave up after ${days} days; last cause ${failure.code}${failureText(failure) ? `: ${failureText(failure)}` : ""}`
}
