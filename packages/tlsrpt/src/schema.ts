/**
 * The RFC 8460 §4.4 report format as a JSON Schema (draft 2020-12), checked with ajv. Two
 * readings of the same schema, because the RFC asks different things of the two sides:
 *
 * - `validateReport` — **strict**, the RFC as written: every member of §4.4 with its type, the
 *   result types of the §4.3 registry only, `mx-host` a single pattern, `contact-info` an
 *   addr-spec, `additional-information` a URI, and no member the RFC does not define. This is
 *   what our own sender must produce (its tests validate its output here).
 * - `validateReceivedReport` — what we **accept** from other organisations: the same required
 *   members and types, but a result type may be any token (§6.6 makes the result types an IANA
 *   registry that can grow: an unknown one is kept under its own name and flagged, not refused),
 *   `mx-host` may be a list of patterns (deployed reporters send one), `contact-info` and
 *   `additional-information` are plain strings, and unknown members are ignored (the RFC's own
 *   Appendix B example carries `failure-error-code`, which §4.4 does not define).
 *
 * Both refuse a report whose `end-datetime` is before its `start-datetime`, which no schema
 * keyword can say. Pure: no I/O.
 */
import Ajv2020, { type ErrorObject } from "ajv/dist/2020"
import addFormats from "ajv-formats"
import { Either } from "effect"
import { RESULT_TYPES, type TlsReport } from "./report"

/** Where a report breaks the schema: a JSON Pointer into the report, and what is wrong there. */
export interface SchemaViolation {
  readonly path: string
  readonly message: string
}

/** A report as received: the strict type with the leniencies described above. */
export interface ReceivedFailureDetail {
  readonly "result-type": string
  readonly "sending-mta-ip"?: string
  readonly "receiving-mx-hostname"?: string
  readonly "receiving-mx-helo"?: string
  readonly "receiving-ip"?: string
  readonly "failed-session-count": number
  readonly "additional-information"?: string
  readonly "failure-reason-code"?: string
}

export interface ReceivedPolicyResult {
  readonly policy: {
    readonly "policy-type": TlsReport["policies"][number]["policy"]["policy-type"]
    readonly "policy-string"?: ReadonlyArray<string>
    readonly "policy-domain": string
    readonly "mx-host"?: string | ReadonlyArray<string>
  }
  readonly summary: TlsReport["policies"][number]["summary"]
  readonly "failure-details"?: ReadonlyArray<ReceivedFailureDetail>
}

export interface ReceivedTlsReport extends Omit<TlsReport, "policies"> {
  readonly policies: ReadonlyArray<ReceivedPolicyResult>
}

type Mode = "strict" | "received"

/** Session counts: JSON numbers that are exact integers (no report counts past 2^53). */
const count = { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const
const text = { type: "string", minLength: 1 } as const
const ipAddress = { type: "string", anyOf: [{ format: "ipv4" }, { format: "ipv6" }] } as const

/** The §4.4 schema in either reading. */
export const reportSchema = (mode: Mode) => {
  const strict = mode === "strict"
  const closed = { additionalProperties: !strict } as const
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: `https://mailconnect.invalid/schemas/rfc8460-report-${mode}.json`,
    title: `RFC 8460 SMTP TLS report (${mode})`,
    type: "object",
    required: ["organization-name", "date-range", "contact-info", "report-id", "policies"],
    ...closed,
    properties: {
      "organization-name": text,
      "date-range": {
        type: "object",
        required: ["start-datetime", "end-datetime"],
        ...closed,
        properties: {
          "start-datetime": { type: "string", format: "date-time" },
          "end-datetime": { type: "string", format: "date-time" },
        },
      },
      "contact-info": strict ? { type: "string", format: "email" } : text,
      "report-id": text,
      policies: {
        type: "array",
        // A report about no policy says nothing; no conforming reporter sends one.
        minItems: 1,
        items: {
          type: "object",
          required: ["policy", "summary"],
          ...closed,
          properties: {
            policy: {
              type: "object",
              required: ["policy-type", "policy-domain"],
              ...closed,
              properties: {
                "policy-type": { enum: ["tlsa", "sts", "no-policy-found"] },
                "policy-string": { type: "array", items: { type: "string" } },
                "policy-domain": text,
                "mx-host": strict ? text : { anyOf: [text, { type: "array", items: { type: "string" } }] },
              },
            },
            summary: {
              type: "object",
              required: ["total-successful-session-count", "total-failure-session-count"],
              ...closed,
              properties: {
                "total-successful-session-count": count,
                "total-failure-session-count": count,
              },
            },
            "failure-details": {
              type: "array",
              items: {
                type: "object",
                required: ["result-type", "failed-session-count"],
                ...closed,
                properties: {
                  "result-type": strict
                    ? { enum: [...RESULT_TYPES] }
                    : { type: "string", pattern: "^[a-z0-9][a-z0-9-]*$", maxLength: 64 },
                  "sending-mta-ip": ipAddress,
                  "receiving-mx-hostname": text,
                  "receiving-mx-helo": { type: "string" },
                  "receiving-ip": ipAddress,
                  "failed-session-count": count,
                  "additional-information": strict ? { type: "string", format: "uri" } : { type: "string" },
                  "failure-reason-code": { type: "string" },
                },
              },
            },
          },
        },
      },
    },
  } as const
}

const ajv = new Ajv2020({ allErrors: true, strict: true })
addFormats(ajv, ["date-time", "email", "uri", "ipv4", "ipv6"])
const validators = {
  strict: ajv.compile(reportSchema("strict")),
  received: ajv.compile(reportSchema("received")),
}

/** At most this many violations are returned: enough to fix a report, bounded for a hostile one. */
export const MAX_VIOLATIONS = 20

const escapePointer = (name: string) => name.replace(/~/g, "~0").replace(/\//g, "~1")

/** One ajv error as a violation, pointing at the member itself where ajv points at its parent. */
const violationOf = (error: ErrorObject): SchemaViolation => {
  const path = error.instancePath
  switch (error.keyword) {
    case "required":
      return {
        path: `${path}/${escapePointer(String(error.params.missingProperty))}`,
        message: "is required",
      }
    case "additionalProperties":
      return {
        path: `${path}/${escapePointer(String(error.params.additionalProperty))}`,
        message: "is not a member of an RFC 8460 report",
      }
    case "enum":
      return {
        path,
        message: `must be one of ${(error.params.allowedValues as ReadonlyArray<string>).join(", ")}`,
      }
    default:
      return { path, message: error.message ?? error.keyword }
  }
}

/** ajv reports every branch of a failed `anyOf`; one line for the member is enough. */
const violationsOf = (errors: ReadonlyArray<ErrorObject>): ReadonlyArray<SchemaViolation> => {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === "anyOf").map((e) => e.schemaPath))
  const kept = errors.filter(
    (e) => e.keyword === "anyOf" || ![...anyOfPaths].some((p) => e.schemaPath.startsWith(`${p}/`)),
  )
  const seen = new Set<string>()
  const out: Array<SchemaViolation> = []
  for (const violation of kept.map(violationOf)) {
    const key = `${violation.path}\u0000${violation.message}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(violation)
  }
  return out.slice(0, MAX_VIOLATIONS)
}

/** The date range runs forwards (both ends are RFC 3339 date-times once the schema passed). */
const rangeViolations = (report: {
  "date-range": TlsReport["date-range"]
}): ReadonlyArray<SchemaViolation> =>
  Date.parse(report["date-range"]["end-datetime"]) < Date.parse(report["date-range"]["start-datetime"])
    ? [{ path: "/date-range/end-datetime", message: "must not be before start-datetime" }]
    : []

const validateWith = <A extends { "date-range": TlsReport["date-range"] }>(
  mode: Mode,
  value: unknown,
): Either.Either<A, ReadonlyArray<SchemaViolation>> => {
  const validate = validators[mode]
  if (!validate(value)) return Either.left(violationsOf(validate.errors ?? []))
  const report = value as unknown as A
  const range = rangeViolations(report)
  return range.length > 0 ? Either.left(range) : Either.right(report)
}

/** The RFC as written: for reports we produce. */
export const validateReport = (value: unknown): Either.Either<TlsReport, ReadonlyArray<SchemaViolation>> =>
  validateWith<TlsReport>("strict", value)

/** The RFC as deployed: for reports we receive. */
export const validateReceivedReport = (
  value: unknown,
): Either.Either<ReceivedTlsReport, ReadonlyArray<SchemaViolation>> =>
  validateWith<ReceivedTlsReport>("received", value)
