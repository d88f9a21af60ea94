/**
 * Delivery job data: one BullMQ job per (message, recipient domain), holding that domain's
 * recipients. Versioned: a worker that meets a version it does not know leaves the job for a
 * newer worker (rolling deploys run old and new relays side by side).
 *
 * The attempt history lives here, not in BullMQ's `attemptsMade`: timeline delays are not
 * BullMQ retries, and operators read this history in bull-board.
 */
import { FailureReason } from "@mailconnect/failure-codes"
import { Schema } from "effect"
import { FailureCodeSchema } from "./failure-code"
import { RouteCheck } from "./route-check"
import { AttemptTls } from "./tls-record"

export const JOB_VERSION = 1

export { FailureCodeSchema } from "./failure-code"

export const LastFailure = Schema.Struct({
  code: FailureCodeSchema,
  status: Schema.String,
  at: Schema.Number,
  server: Schema.optional(Schema.String),
  reply: Schema.optional(Schema.String),
  /** The server's or library's own words. */
  detail: Schema.optional(Schema.String),
  /** What varies within the cause, as data (absent in older job data). */
  reason: Schema.optional(FailureReason),
  /** Who authenticated the hop that failed (absent in older job data and without a session). */
  source: Schema.optional(Schema.Literal("partner", "dane", "mta-sts", "none")),
  /** The partner's MX no longer points at its route servers (the fleet's last route check). */
  route: Schema.optional(RouteCheck),
})
export type LastFailure = typeof LastFailure.Type

export const Attempt = Schema.Struct({
  at: Schema.Number,
  serial: Schema.Number,
  /** Undefined when every recipient attempted was accepted. */
  code: Schema.optional(FailureCodeSchema),
  server: Schema.optional(Schema.String),
  delivered: Schema.Number,
  /** The session's TLS evidence (`null`: no TLS); a one-line summary in older job data. */
  tls: Schema.optional(AttemptTls),
  /** Who authenticated the hop: partner policy, DANE, MTA-STS or none (absent in older job data). */
  source: Schema.optional(Schema.Literal("partner", "dane", "mta-sts", "none")),
})
export type Attempt = typeof Attempt.Type

export const RecipientResult = Schema.Struct({
  recipient: Schema.String,
  outcome: Schema.Literal("delivered", "failed"),
  at: Schema.Number,
  status: Schema.String,
  code: Schema.optional(FailureCodeSchema),
  reply: Schema.optional(Schema.String),
  server: Schema.optional(Schema.String),
})
export type RecipientResult = typeof RecipientResult.Type

/** One recipient of a DSN, as `@mailconnect/dsn` takes it. */
export const OwedRecipient = Schema.Struct({
  address: Schema.String,
  action: Schema.Literal("delayed", "failed"),
  status: Schema.String,
  code: FailureCodeSchema,
  remoteMta: Schema.optionalWith(Schema.String, { exact: true }),
  smtpReply: Schema.optionalWith(Schema.String, { exact: true }),
  detail: Schema.optionalWith(Schema.String, { exact: true }),
  lastAttemptAt: Schema.optionalWith(Schema.Number, { exact: true }),
  willRetryUntil: Schema.optionalWith(Schema.Number, { exact: true }),
})

/**
 * A delay warning or NDR an attempt decided on, recorded with the recipients' results in the
 * same write and removed once the DSN is in the queue: a Redis error or a crash in between
 * leaves it here, and the next run of the job sends it (under the same deterministic id).
 */
export const OwedReport = Schema.Struct({
  kind: Schema.Literal("delay", "failure"),
  /** The attempt that decided it (part of the DSN's queue id). */
  attempt: Schema.Number,
  createdAt: Schema.Number,
  recipients: Schema.Array(OwedRecipient),
})
export type OwedReport = typeof OwedReport.Type

export const DeliveryJobData = Schema.Struct({
  v: Schema.Literal(JOB_VERSION),
  messageId: Schema.String,
  domain: Schema.String,
  /** Envelope sender; "" for a DSN (null reverse path). */
  sender: Schema.String,
  recipients: Schema.Array(Schema.String),
  /** Recipients without a final result yet. */
  pending: Schema.Array(Schema.String),
  queuedAt: Schema.Number,
  /** This job carries a DSN: never report on it. */
  isDsn: Schema.Boolean,
  warned: Schema.Boolean,
  attemptCount: Schema.Number,
  /** The most recent attempts (bounded), newest last. */
  attempts: Schema.Array(Attempt),
  results: Schema.Array(RecipientResult),
  nextAttemptAt: Schema.optional(Schema.Number),
  lastFailure: Schema.optional(LastFailure),
  /** RFC 8689: sent with MAIL FROM … REQUIRETLS; only authenticated hops carry it (absent: no). */
  requireTls: Schema.optional(Schema.Boolean),
  /** RFC 8689 §5: `TLS-Required: No` without REQUIRETLS — DANE/MTA-STS not enforced (absent: no). */
  tlsRequiredNo: Schema.optional(Schema.Boolean),
  /** An RFC 8460 TLS report we send: its sessions are left out of the next report (absent: no). */
  tlsReport: Schema.optional(Schema.Boolean),
  /** DSNs decided but not yet confirmed queued; absent or empty when none are owed. */
  reportsOwed: Schema.optional(Schema.Array(OwedReport)),
})
export type DeliveryJobData = typeof DeliveryJobData.Type

/** Enough history for an operator; the job log keeps every line. */
export const MAX_ATTEMPTS_KEPT = 20

export const decodeJobData = Schema.decodeUnknownEither(DeliveryJobData)

/** The version field alone, to tell "newer than me" from "corrupt". */
export const jobVersionOf = (data: unknown): number | undefined => {
  const v = (data as { v?: unknown } | null)?.v
  return typeof v === "number" ? v : undefined
}

/**
 * One part of a job id, readable and reversible: `%`, `:` and `/` percent-encoded, nothing else.
 * BullMQ refuses `:` in custom ids (its key separator), and `/` separates the parts, while an
 * address-literal domain such as `[IPv6:2001:db8::1]` carries colons.
 */
export const encodeIdPart = (part: string): string =>
  part.replace(/[%:/]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)

export const decodeIdPart = (part: string): string =>
  part.replace(/%(25|3A|2F)/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))

/**
 * Deterministic id: adding the same (message, domain) twice is a no-op in BullMQ.
 * `m1/bank.example`, `m1/[IPv6%3A2001%3Adb8%3A%3A1]`.
 */
export const jobIdFor = (messageId: string, domain: string): string =>
  `${encodeIdPart(messageId)}/${encodeIdPart(domain)}`

/** The (message, domain) a job id was built from; undefined for an id `jobIdFor` did not build. */
export const parseJobId = (jobId: string): { messageId: string; domain: string } | undefined => {
  const parts = jobId.split("/")
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") return undefined
  return { messageId: decodeIdPart(parts[0]!), domain: decodeIdPart(parts[1]!) }
}

/**
 * The queue id of a DSN about one job's recipients: deterministic, so a re-run of the same
 * attempt adds the same DSN, which BullMQ ignores. The domain part is encoded like a job id part.
 */
export const dsnMessageIdFor = (
  messageId: string,
  kind: "delay" | "ndr",
  domain: string,
  attemptCount: number,
): string => `${messageId}.${kind}.${encodeIdPart(domain)}.${attemptCount}`

/** The job name shown in bull-board: searchable by domain and message id. */
export const jobNameFor = (messageId: string, domain: string, partner: string | undefined): string =>
  `${domain} ${partner ?? "-"} ${messageId}`
