/**
 * The outcome of one delivery attempt, as a pure decision: which recipients are final, whether
 * a delay warning or an NDR is due, and when to try again. The worker only carries it out.
 */
import type { DsnRecipient } from "@mailconnect/dsn"
import { shouldReport } from "@mailconnect/dsn"
import type { RetryPolicy } from "@mailconnect/policy"
import { afterTemporaryFailure, computeTimeline } from "@mailconnect/retry-timeline"
import { Either } from "effect"
import { type DeliveryJobData, type LastFailure, MAX_ATTEMPTS_KEPT, type RecipientResult } from "./job"
import type { DeliveryFailed, DeliveryReport } from "./ports"

export interface AttemptInput {
  readonly data: DeliveryJobData
  readonly now: number
  readonly retry: RetryPolicy
  readonly serial: number
  readonly outcome: Either.Either<DeliveryReport, DeliveryFailed>
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

export const decideAttempt = ({ data, now, retry, serial, outcome }: AttemptInput): Decision => {
  const results: Array<RecipientResult> = [...data.results]
  const failedNow: Array<DsnRecipient> = []
  let pending: Array<string> = [...data.pending]
  let lastFailure: LastFailure | undefined = data.lastFailure
  let server: string | undefined
  let tls: string | undefined
  let delivered = 0

  if (Either.isRight(outcome)) {
    const report = outcome.right
    server = report.server
    tls = report.tls
    const replies = new Map(report.recipients.map((r) => [r.recipient, r]))
    pending = []
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
        results.push({
          recipient,
          outcome: "failed",
          at: now,
          status: reply.status,
          code: "SMTP_PERMANENT",
          reply: reply.reply,
          server,
        })
        failedNow.push({
          address: recipient,
          action: "failed",
          status: reply.status,
          code: "SMTP_PERMANENT",
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
  } else {
    const f = outcome.left
    server = f.server
    tls = f.tls
    lastFailure = {
      code: f.code,
      status: f.status,
      at: now,
      ...(f.server === undefined ? {} : { server: f.server }),
      ...(f.reply === undefined ? {} : { reply: f.reply }),
      ...(f.detail === undefined ? {} : { detail: f.detail }),
    }
    if (f.retry === "bounce") {
      for (const recipient of pending) {
        results.push({
          recipient,
          outcome: "failed",
          at: now,
          status: f.status,
          code: f.code,
          ...(f.reply ? { reply: f.reply } : {}),
          ...(server ? { server } : {}),
        })
        failedNow.push(dsnRecipient(recipient, "failed", f.status, lastFailure, now))
      }
      pending = []
    }
  }

  let next: Next = { _tag: "Done" }
  let warned = data.warned
  const reports: Array<DsnNeed> = []
  const reportable = !data.isDsn && shouldReport(data.sender)

  if (pending.length > 0 && lastFailure) {
    const verdict = afterTemporaryFailure(computeTimeline(data.queuedAt, retry), now, data.warned)
    if (verdict._tag === "Expire") {
      const expired: LastFailure = lastFailure
      for (const recipient of pending) {
        results.push({
          recipient,
          outcome: "failed",
          at: now,
          status: "5.4.7",
          code: expired.code,
          ...(expired.reply ? { reply: expired.reply } : {}),
          ...(expired.server ? { server: expired.server } : {}),
        })
        failedNow.push({
          ...dsnRecipient(recipient, "failed", "5.4.7", expired, now),
          detail: expiredDetail(expired, now - data.queuedAt),
        })
      }
      pending = []
    } else {
      next = { _tag: "Delay", at: verdict.at }
      if (verdict.warn) {
        warned = true
        const until = computeTimeline(data.queuedAt, retry).expireAt
        if (reportable)
          reports.push({
            kind: "delay",
            recipients: pending.map((r) => ({
              ...dsnRecipient(r, "delayed", lastFailure!.status, lastFailure!, now),
              willRetryUntil: until,
            })),
          })
      }
    }
  }
  if (failedNow.length > 0 && reportable) reports.push({ kind: "failure", recipients: failedNow })

  const attemptCount = data.attemptCount + 1
  const code = pending.length > 0 || failedNow.length > 0 ? lastFailure?.code : undefined
  const attempt = {
    at: now,
    serial,
    delivered,
    ...(code === undefined ? {} : { code }),
    ...(server === undefined ? {} : { server }),
    ...(tls === undefined ? {} : { tls }),
  }
  const nextData: DeliveryJobData = {
    ...data,
    pending,
    results,
    warned,
    attemptCount,
    attempts: [...data.attempts, attempt].slice(-MAX_ATTEMPTS_KEPT),
    ...(lastFailure === undefined ? {} : { lastFailure }),
    ...(next._tag === "Delay" ? { nextAttemptAt: next.at } : { nextAttemptAt: undefined }),
  }
  const parts = [
    iso(now),
    `attempt ${attemptCount}`,
    `serial ${serial}`,
    `server ${server ?? "-"}`,
    code ? `${code} ${lastFailure?.status ?? ""}`.trim() : "ok",
    `delivered ${delivered}`,
    ...(failedNow.length > 0 ? [`failed ${failedNow.length}`] : []),
    ...(tls ? [`tls ${tls}`] : []),
    ...(code && lastFailure?.reply ? [`reply ${JSON.stringify(lastFailure.reply)}`] : []),
    ...(code && lastFailure?.detail ? [`detail ${JSON.stringify(lastFailure.detail)}`] : []),
    next._tag === "Delay" ? `next ${iso(next.at)}` : "done",
    ...reports.map((r) => (r.kind === "delay" ? "delay-dsn" : "ndr")),
  ]
  return { data: nextData, logLine: parts.join(" | "), reports, next }
}

const dsnRecipient = (
  address: string,
  action: "delayed" | "failed",
  status: string,
  failure: LastFailure,
  now: number,
): DsnRecipient => ({
  address,
  action,
  status,
  code: failure.code,
  lastAttemptAt: now,
  ...(failure.server === undefined ? {} : { remoteMta: failure.server }),
  ...(failure.reply === undefined ? {} : { smtpReply: failure.reply }),
  ...(failure.detail === undefined ? {} : { detail: failure.detail }),
})

const expiredDetail = (failure: LastFailure, ageMs: number): string => {
  const days = Math.round((ageMs / 86_400_000) * 10) / 10
  return `gave up after ${days} days; last cause ${failure.code}${failure.detail ? `: ${failure.detail}` : ""}`
}
