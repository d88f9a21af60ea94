/**
 * A report delivered by mail (RFC 8460 §5.3: `multipart/report; report-type="tlsrpt"`, the report
 * as an `application/tlsrpt+gzip` or `+json` part), parsed with mailparser — wrapped here, once.
 *
 * The report part is found by its media type. Reporters that label it `application/gzip` or
 * `application/octet-stream` but keep the §5.3 file name (`….json.gz` / `….json`) are read too:
 * the report inside is validated the same way, so nothing is trusted for its label. The container
 * type is not required, since forwarders and list software rewrap messages. Exactly one report part
 * is accepted (§5.3 sends one report per message).
 */
import { Effect } from "effect"
import { type Attachment, simpleParser } from "mailparser"
import type { ReceivedTlsReport } from "../schema"
import {
  DEFAULT_LIMITS,
  decodeReport,
  type ReportEncoding,
  type ReportLimits,
  reportEncoding,
} from "./decode"
import { type ReportInvalid, ReportMailUnusable, ReportTooLarge, type ReportUndecodable } from "./errors"

/**
 * The largest message that can carry a `maxBodyBytes` attachment: base64 grows it by 4/3, line
 * breaks by 78/76, and headers and the human-readable part need some room.
 */
export const maxMailBytes = (limits: ReportLimits): number => Math.ceil(limits.maxBodyBytes * 1.4) + 64 * 1024

const encodingByName = (filename: string | undefined): ReportEncoding | undefined => {
  const name = (filename ?? "").toLowerCase()
  return name.endsWith(".json.gz") ? "gzip" : name.endsWith(".json") ? "json" : undefined
}

const LABELLED_LOOSELY = new Set([
  "application/gzip",
  "application/x-gzip",
  "application/octet-stream",
  "application/json",
])

/** How a part carries a report, if it does. */
const reportPart = (part: Attachment): ReportEncoding | undefined => {
  const byType = reportEncoding(part.contentType)
  if (byType !== undefined) return byType
  return LABELLED_LOOSELY.has(part.contentType.toLowerCase()) ? encodingByName(part.filename) : undefined
}

const parseMime = (raw: Buffer) =>
  Effect.tryPromise({
    try: () =>
      simpleParser(raw, {
        skipHtmlToText: true,
        skipTextToHtml: true,
        skipTextLinks: true,
        skipImageLinks: true,
      }),
    catch: (e) =>
      new ReportMailUnusable({ form: "mime", detail: e instanceof Error ? e.message : String(e) }),
  })

/** The one report a mail carries, decoded and validated. */
export const reportFromMail = (
  raw: Buffer,
  limits: ReportLimits = DEFAULT_LIMITS,
): Effect.Effect<
  ReceivedTlsReport,
  ReportMailUnusable | ReportTooLarge | ReportUndecodable | ReportInvalid
> =>
  Effect.gen(function* () {
    const limit = maxMailBytes(limits)
    if (raw.length > limit) return yield* new ReportTooLarge({ stage: "mail", limit })
    const mail = yield* parseMime(raw)
    const reports = mail.attachments.flatMap((part) => {
      const encoding = reportPart(part)
      return encoding === undefined ? [] : [{ part, encoding }]
    })
    if (reports.length === 0)
      return yield* new ReportMailUnusable({
        form: "no-report",
        detail: `parts: ${mail.attachments.map((a) => a.contentType).join(", ") || "none"}`,
      })
    if (reports.length > 1)
      return yield* new ReportMailUnusable({
        form: "several-reports",
        detail: `${reports.length} report parts`,
      })
    const [{ part, encoding }] = reports as [(typeof reports)[number]]
    return yield* decodeReport(part.content, encoding, limits)
  })
