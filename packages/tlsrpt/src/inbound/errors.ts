/**
 * Why a received TLS report was not taken: one tagged class per cause, variation in literal
 * fields (`stage`, `form`), never in the text of `detail`. The HTTPS endpoint maps each to its
 * status (`https-status.ts`), the mail path to its SMTP reply (the relay's binding).
 */
import { Data } from "effect"
import type { SchemaViolation } from "../schema"

/**
 * Bigger than we take: `body` is the bytes on the wire (the HTTPS body or the decoded mail
 * attachment), `report` the JSON document after decompression (a gzip bomb stops here, at the
 * limit, without inflating the rest), `mail` the whole message.
 */
export class ReportTooLarge extends Data.TaggedError("ReportTooLarge")<{
  readonly stage: "body" | "report" | "mail"
  readonly limit: number
}> {}

/** Not a report media type of RFC 8460 §5.3 (`application/tlsrpt+gzip` or `+json`). */
export class ReportMediaTypeUnsupported extends Data.TaggedError("ReportMediaTypeUnsupported")<{
  readonly mediaType: string
}> {}

/** The bytes are not a report document: broken gzip, not UTF-8, or not JSON. */
export class ReportUndecodable extends Data.TaggedError("ReportUndecodable")<{
  readonly form: "gzip" | "utf8" | "json"
  readonly detail: string
}> {}

/** A JSON document that is no RFC 8460 report; `violations` point into it. */
export class ReportInvalid extends Data.TaggedError("ReportInvalid")<{
  readonly violations: ReadonlyArray<SchemaViolation>
}> {}

/**
 * A mail that carries no single report: `mime` the message could not be parsed, `no-report`
 * it has no `application/tlsrpt+*` part, `several-reports` more than one (RFC 8460 §5.3 sends
 * one report per message).
 */
export class ReportMailUnusable extends Data.TaggedError("ReportMailUnusable")<{
  readonly form: "mime" | "no-report" | "several-reports"
  readonly detail: string
}> {}

/** A valid report about domains that are not ours: nobody here asked for it (`ReportDomains`). */
export class ReportNotOurs extends Data.TaggedError("ReportNotOurs")<{
  readonly domains: ReadonlyArray<string>
}> {}

/** Redis did not take or give the reports; the sender should try again later. */
export class ReceivedReportsUnavailable extends Data.TaggedError("ReceivedReportsUnavailable")<{
  readonly operation: "store" | "record-rejected" | "read"
  readonly detail: string
}> {}

/** The HTTPS endpoint could not start (`tls`: unusable certificate or key; `listen`: port, address). */
export class ReportEndpointFailed extends Data.TaggedError("ReportEndpointFailed")<{
  readonly phase: "tls" | "listen"
  readonly code?: string
  readonly detail: string
}> {}

/** Everything that makes a received report unusable, whatever it came by. */
export type ReportRejected =
  | ReportTooLarge
  | ReportMediaTypeUnsupported
  | ReportUndecodable
  | ReportInvalid
  | ReportMailUnusable
  | ReportNotOurs

/** The literal under which a rejection is counted (`ReceivedReports.recordRejected`). */
export type RejectionReason =
  | "too-large"
  | "media-type"
  | "undecodable"
  | "invalid"
  | "mail-without-report"
  | "not-our-domain"

export const rejectionReason = (error: ReportRejected): RejectionReason => {
  switch (error._tag) {
    case "ReportTooLarge":
      return "too-large"
    case "ReportMediaTypeUnsupported":
      return "media-type"
    case "ReportUndecodable":
      return "undecodable"
    case "ReportInvalid":
      return "invalid"
    case "ReportMailUnusable":
      return "mail-without-report"
    case "ReportNotOurs":
      return "not-our-domain"
  }
}

export const REJECTION_REASONS: ReadonlyArray<RejectionReason> = [
  "too-large",
  "media-type",
  "undecodable",
  "invalid",
  "mail-without-report",
  "not-our-domain",
]
