/** A day's report for one policy domain, from the fleet's counts (RFC 8460 §4.4), and its gzip. */
import { gzipSync } from "node:zlib"
import type { PolicyResult, TlsReport } from "./report"
import { dayRange } from "./session"

export interface Submitter {
  /** `organization-name`. */
  readonly organization: string
  /** `contact-info`: an address or URI where the report's sender can be reached. */
  readonly contact: string
  /** The submitter's domain: the file name's first part and `TLS-Report-Submitter`. */
  readonly domain: string
}

const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z")

export const buildReport = (input: {
  readonly submitter: Submitter
  readonly reportId: string
  readonly day: string
  readonly policies: ReadonlyArray<PolicyResult>
}): TlsReport => {
  const { start, end } = dayRange(input.day)
  return {
    "organization-name": input.submitter.organization,
    "date-range": { "start-datetime": iso(start), "end-datetime": iso(end) },
    "contact-info": input.submitter.contact,
    "report-id": input.reportId,
    policies: input.policies,
  }
}

/** The report as sent: JSON, gzip-compressed (§5.3: gzip is the one required encoding). */
export const compressReport = (report: TlsReport): Buffer => gzipSync(Buffer.from(JSON.stringify(report)))
