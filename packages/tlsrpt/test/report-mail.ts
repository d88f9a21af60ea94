/**
 * Report mails for tests, as RFC 8460 §5.3 lays them out: `multipart/report;
 * report-type="tlsrpt"`, a text part and the report part — with the part's media type, file name
 * and encoding overridable one at a time, and extra parts.
 */
import { gzipSync } from "node:zlib"
import type { TlsReport } from "../src/report"

export interface ReportPart {
  readonly contentType: string
  readonly fileName: string
  readonly content: Buffer
}

export const gzipPart = (report: unknown, overrides: Partial<ReportPart> = {}): ReportPart => ({
  contentType: "application/tlsrpt+gzip",
  fileName: "reporter.example!our.example!1748736000!1748822399!r1.json.gz",
  content: gzipSync(JSON.stringify(report)),
  ...overrides,
})

export const jsonPart = (report: unknown, overrides: Partial<ReportPart> = {}): ReportPart => ({
  contentType: "application/tlsrpt+json",
  fileName: "reporter.example!our.example!1748736000!1748822399!r1.json",
  content: Buffer.from(JSON.stringify(report)),
  ...overrides,
})

const base64Lines = (data: Buffer): string => (data.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n")

export const reportMail = (
  parts: ReadonlyArray<ReportPart>,
  options: { readonly to?: string; readonly report?: TlsReport } = {},
): Buffer => {
  const boundary = "tlsrpt-test-boundary"
  const lines = [
    "From: TLS reporting <tlsrpt@reporter.example>",
    `To: ${options.to ?? "tlsrpt@our.example"}`,
    "Subject: Report Domain: our.example Submitter: reporter.example Report-ID: <r1>",
    "Date: Mon, 02 Jun 2025 01:00:00 +0000",
    "Message-ID: <r1@reporter.example>",
    "TLS-Report-Domain: our.example",
    "TLS-Report-Submitter: reporter.example",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "This is an aggregate TLS report from reporter.example.",
    "",
    ...parts.flatMap((part) => [
      `--${boundary}`,
      `Content-Type: ${part.contentType}; name="${part.fileName}"`,
      `Content-Disposition: attachment; filename="${part.fileName}"`,
      "Content-Transfer-Encoding: base64",
      "",
      base64Lines(part.content),
      "",
    ]),
    `--${boundary}--`,
    "",
  ]
  return Buffer.from(lines.join("\r\n"))
}
