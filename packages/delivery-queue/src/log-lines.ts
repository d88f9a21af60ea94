/**
 * The delivery log's lines for what the worker does (`@mailconnect/delivery-log`): one per
 * attempt — every recipient tried with its outcome, the hop's source, server and TLS evidence,
 * the bundle serial — and one per DSN queued. Pure: built from the job data before and after the
 * attempt's decision, so the line says exactly what the job records.
 */
import type { AttemptLine, DsnLine } from "@mailconnect/delivery-log"
import { messageIdOf } from "@mailconnect/delivery-log"
import type { Decision } from "./attempt"
import type { DeliveryJobData, OwedReport } from "./job"
import type { Route } from "./ports"

const iso = (t: number) => new Date(t).toISOString()

export const attemptLine = (input: {
  readonly before: DeliveryJobData
  readonly decision: Decision
  readonly route: Route
  readonly at: number
  readonly headers: string
}): AttemptLine => {
  const { before, decision, route } = input
  const after = decision.data
  const final = new Map(after.results.slice(before.results.length).map((r) => [r.recipient, r]))
  const recipients = before.pending.map((address): AttemptLine["recipients"][number] => {
    const result = final.get(address)
    if (result)
      return {
        address,
        outcome: result.outcome === "delivered" ? "delivered" : "bounced",
        status: result.status,
        ...(result.reply ? { reply: result.reply } : {}),
      }
    const failure = after.lastFailure
    return {
      address,
      outcome: "deferred",
      status: failure?.status ?? "4.0.0",
      ...(failure?.reply ? { reply: failure.reply } : {}),
    }
  })
  const outcomes = new Set(recipients.map((r) => r.outcome))
  const result = outcomes.size === 1 ? [...outcomes][0]! : "partial"
  const attempt = after.attempts.at(-1)
  const messageId = messageIdOf(input.headers)
  const partner = route.local ? "local" : route.policy.partner?.name
  const tls = attempt?.tls
  return {
    event: "attempt",
    at: iso(input.at),
    queueId: after.messageId,
    ...(messageId ? { messageId } : {}),
    attempt: after.attemptCount,
    sender: after.sender,
    domain: after.domain,
    ...(partner ? { partner } : {}),
    ...(attempt?.source ? { source: attempt.source } : {}),
    result,
    recipients,
    ...(attempt?.code ? { code: attempt.code } : {}),
    ...(attempt?.server ? { server: attempt.server } : {}),
    // Job data of old workers kept a one-line summary; the log records only the structured form.
    ...(tls === undefined || typeof tls === "string" ? {} : { tls }),
    bundleSerial: attempt?.serial ?? 0,
    ...(decision.next._tag === "Delay" ? { nextAttemptAt: iso(decision.next.at) } : {}),
  }
}

export const dsnLine = (data: DeliveryJobData, report: OwedReport, dsnQueueId: string): DsnLine => ({
  event: "dsn",
  at: iso(report.createdAt),
  queueId: data.messageId,
  dsnQueueId,
  kind: report.kind,
  to: data.sender,
  recipients: report.recipients.map((r) => ({ address: r.address, status: r.status, code: r.code })),
})
