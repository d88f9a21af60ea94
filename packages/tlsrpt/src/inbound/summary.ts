/**
 * What the receiving side keeps of a report, computed before anything is written: the report's
 * identity (organisation + report-id, RFC 8460 §4.4 says the id is unique per reporter, not
 * globally), its summary for the list of recent reports, and its counts per (day, organisation,
 * policy domain) for the daily read model. Pure.
 */
import { createHash } from "node:crypto"
import { Schema } from "effect"
import { RESULT_TYPES } from "../report"
import type { ReceivedTlsReport } from "../schema"
import { utcDay } from "../session"

export const ReportChannel = Schema.Literal("mailto", "https")
export type ReportChannel = typeof ReportChannel.Type

const Counts = Schema.Record({ key: Schema.String, value: Schema.Number })

/** One received report as the dashboard lists it. */
export const ReportSummary = Schema.Struct({
  /** Identity: a digest of organisation and report-id. */
  id: Schema.String,
  organization: Schema.String,
  reportId: Schema.String,
  contactInfo: Schema.String,
  start: Schema.String,
  end: Schema.String,
  /** The UTC day the report's range starts on, `YYYY-MM-DD`: the day the sessions are counted for. */
  day: Schema.String,
  via: ReportChannel,
  receivedAt: Schema.Number,
  policies: Schema.Array(
    Schema.Struct({
      type: Schema.String,
      domain: Schema.String,
      successful: Schema.Number,
      failed: Schema.Number,
    }),
  ),
  successful: Schema.Number,
  failed: Schema.Number,
  failuresByType: Counts,
  /** Result types outside the RFC 8460 §4.3 registry, kept under their own names. */
  unregisteredTypes: Schema.Array(Schema.String),
})
export type ReportSummary = typeof ReportSummary.Type

/** The counts one report adds to one (day, organisation, policy domain) row. */
export interface RowIncrement {
  readonly row: string
  readonly organization: string
  readonly policyDomain: string
  readonly successful: number
  readonly failed: number
  readonly failuresByType: Readonly<Record<string, number>>
}

const digest = (parts: ReadonlyArray<string>, length: number) =>
  createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, length)

/** Organisation names and report ids are free text: their digest names keys unambiguously. */
export const reportIdentity = (organization: string, reportId: string): string =>
  digest([organization, reportId], 32)

export const rowIdentity = (organization: string, policyDomain: string): string =>
  digest([organization, policyDomain], 16)

const REGISTERED: ReadonlySet<string> = new Set(RESULT_TYPES)

const add = (into: Record<string, number>, key: string, n: number) => {
  into[key] = (into[key] ?? 0) + n
}

export const summarize = (
  report: ReceivedTlsReport,
  via: ReportChannel,
  receivedAt: number,
): { readonly summary: ReportSummary; readonly rows: ReadonlyArray<RowIncrement> } => {
  const organization = report["organization-name"]
  const byDomain = new Map<
    string,
    { successful: number; failed: number; failuresByType: Record<string, number> }
  >()
  const failuresByType: Record<string, number> = {}
  for (const result of report.policies) {
    const domain = result.policy["policy-domain"].toLowerCase()
    const row = byDomain.get(domain) ?? { successful: 0, failed: 0, failuresByType: {} }
    row.successful += result.summary["total-successful-session-count"]
    row.failed += result.summary["total-failure-session-count"]
    for (const detail of result["failure-details"] ?? []) {
      add(row.failuresByType, detail["result-type"], detail["failed-session-count"])
      add(failuresByType, detail["result-type"], detail["failed-session-count"])
    }
    byDomain.set(domain, row)
  }
  const rows = [...byDomain].map(([policyDomain, counts]) => ({
    row: rowIdentity(organization, policyDomain),
    organization,
    policyDomain,
    ...counts,
  }))
  const summary: ReportSummary = {
    id: reportIdentity(organization, report["report-id"]),
    organization,
    reportId: report["report-id"],
    contactInfo: report["contact-info"],
    start: report["date-range"]["start-datetime"],
    end: report["date-range"]["end-datetime"],
    // `2025-06-01T00:00:00+02:00` counts for 2025-05-31: days are UTC days.
    day: utcDay(Date.parse(report["date-range"]["start-datetime"])),
    via,
    receivedAt,
    policies: report.policies.map((result) => ({
      type: result.policy["policy-type"],
      domain: result.policy["policy-domain"].toLowerCase(),
      successful: result.summary["total-successful-session-count"],
      failed: result.summary["total-failure-session-count"],
    })),
    successful: rows.reduce((n, r) => n + r.successful, 0),
    failed: rows.reduce((n, r) => n + r.failed, 0),
    failuresByType,
    unregisteredTypes: Object.keys(failuresByType)
      .filter((type) => !REGISTERED.has(type))
      .sort(),
  }
  return { summary, rows }
}
