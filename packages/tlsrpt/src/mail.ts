/**
 * A report as a mail message (RFC 8460 §5.3): `multipart/report; report-type="tlsrpt"`, a short
 * text part and the gzip report as an `application/tlsrpt+gzip` attachment named by §5.3, with
 * the `TLS-Report-Domain` and `TLS-Report-Submitter` headers. Built here (a few lines of MIME)
 * rather than with a composer library: the outbound library is smtp-outbound's alone.
 */
import { randomBytes } from "node:crypto"
import type { Submitter } from "./build"
import { GZIP_MEDIA_TYPE, reportFileName, type TlsReport } from "./report"

const base64Lines = (data: Buffer): string => (data.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n")

/** RFC 5322 date-time in UTC. */
const mailDate = (t: number): string => new Date(t).toUTCString().replace("GMT", "+0000")

export const reportMessage = (input: {
  readonly submitter: Submitter
  readonly from: string
  readonly to: string
  readonly policyDomain: string
  readonly report: TlsReport
  readonly gzip: Buffer
  readonly now: number
}): { readonly body: Buffer; readonly fileName: string } => {
  const { report, submitter } = input
  const begin = Date.parse(report["date-range"]["start-datetime"])
  const end = Date.parse(report["date-range"]["end-datetime"])
  const fileName = reportFileName(submitter.domain, input.policyDomain, begin, end, report["report-id"])
  const boundary = `tlsrpt-${randomBytes(12).toString("hex")}`
  const lines = [
    `From: ${input.from}`,
    `To: ${input.to}`,
    `Subject: Report Domain: ${input.policyDomain} Submitter: ${submitter.domain} Report-ID: <${report["report-id"]}>`,
    `Date: ${mailDate(input.now)}`,
    `Message-ID: <${report["report-id"]}.${randomBytes(4).toString("hex")}@${submitter.domain}>`,
    `TLS-Report-Domain: ${input.policyDomain}`,
    `TLS-Report-Submitter: ${submitter.domain}`,
    "Auto-Submitted: auto-generated",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    `This is an aggregate TLS report (RFC 8460) from ${submitter.organization} for ${input.policyDomain},`,
    `${report["date-range"]["start-datetime"]} to ${report["date-range"]["end-datetime"]}.`,
    "",
    `--${boundary}`,
    `Content-Type: ${GZIP_MEDIA_TYPE}; name="${fileName}"`,
    `Content-Disposition: attachment; filename="${fileName}"`,
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines(input.gzip),
    "",
    `--${boundary}--`,
    "",
  ]
  return { body: Buffer.from(lines.join("\r\n")), fileName }
}
