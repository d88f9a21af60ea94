/**
 * From received bytes to a validated report: the media type (RFC 8460 §5.3), the size of the
 * body, gunzip with a bound on what it may inflate to (a gzip bomb is refused at the limit, not
 * inflated), strict UTF-8, JSON, and the as-deployed schema (`validateReceivedReport`). Each
 * step fails with its own tagged error; nothing is stored here.
 */
import { gunzip } from "node:zlib"
import { Effect, Either } from "effect"
import { GZIP_MEDIA_TYPE, JSON_MEDIA_TYPE } from "../report"
import { type ReceivedTlsReport, validateReceivedReport } from "../schema"
import { ReportInvalid, ReportMediaTypeUnsupported, ReportTooLarge, ReportUndecodable } from "./errors"

export interface ReportLimits {
  /** The bytes on the wire: an HTTPS body, a mail attachment (gzip or JSON as sent). */
  readonly maxBodyBytes: number
  /** The JSON document once decompressed. */
  readonly maxReportBytes: number
}

/**
 * Daily reports of the largest senders are kilobytes; these bounds leave two orders of
 * magnitude for a busy domain while keeping one report's memory small.
 */
export const DEFAULT_LIMITS: ReportLimits = { maxBodyBytes: 1024 * 1024, maxReportBytes: 16 * 1024 * 1024 }

export type ReportEncoding = "gzip" | "json"

/** `application/tlsrpt+gzip; x=y` → `gzip`; anything else is not a report media type. */
export const reportEncoding = (mediaType: string | undefined): ReportEncoding | undefined => {
  const essence = (mediaType ?? "").split(";")[0]!.trim().toLowerCase()
  return essence === GZIP_MEDIA_TYPE ? "gzip" : essence === JSON_MEDIA_TYPE ? "json" : undefined
}

const inflate = (bytes: Buffer, limit: number) =>
  Effect.async<Buffer, ReportTooLarge | ReportUndecodable>((resume) => {
    gunzip(bytes, { maxOutputLength: limit }, (error, inflated) => {
      if (!error) return resume(Effect.succeed(inflated))
      resume(
        Effect.fail(
          (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE"
            ? new ReportTooLarge({ stage: "report", limit })
            : new ReportUndecodable({ form: "gzip", detail: error.message }),
        ),
      )
    })
  })

const utf8 = new TextDecoder("utf-8", { fatal: true })

const parseJson = (document: Buffer) =>
  Effect.try({
    try: () => utf8.decode(document),
    catch: (e) => new ReportUndecodable({ form: "utf8", detail: String(e) }),
  }).pipe(
    Effect.flatMap((text) =>
      Effect.try({
        // A byte order mark is not JSON, but some writers put one first.
        try: (): unknown => JSON.parse(text.replace(/^\uFEFF/, "")),
        catch: (e) =>
          new ReportUndecodable({ form: "json", detail: e instanceof Error ? e.message : String(e) }),
      }),
    ),
  )

/** The report in `bytes`, sent as `encoding`. */
export const decodeReport = (
  bytes: Buffer,
  encoding: ReportEncoding,
  limits: ReportLimits = DEFAULT_LIMITS,
): Effect.Effect<ReceivedTlsReport, ReportTooLarge | ReportUndecodable | ReportInvalid> =>
  Effect.gen(function* () {
    if (bytes.length > limits.maxBodyBytes)
      return yield* new ReportTooLarge({ stage: "body", limit: limits.maxBodyBytes })
    const document = encoding === "gzip" ? yield* inflate(bytes, limits.maxReportBytes) : bytes
    if (document.length > limits.maxReportBytes)
      return yield* new ReportTooLarge({ stage: "report", limit: limits.maxReportBytes })
    const value = yield* parseJson(document)
    return yield* Either.match(validateReceivedReport(value), {
      onLeft: (violations) => Effect.fail(new ReportInvalid({ violations })),
      onRight: Effect.succeed,
    })
  })

/** The report in `bytes` sent with the media type `mediaType` (e.g. an HTTP Content-Type). */
export const decodeReportAs = (
  bytes: Buffer,
  mediaType: string | undefined,
  limits: ReportLimits = DEFAULT_LIMITS,
): Effect.Effect<
  ReceivedTlsReport,
  ReportMediaTypeUnsupported | ReportTooLarge | ReportUndecodable | ReportInvalid
> => {
  const encoding = reportEncoding(mediaType)
  return encoding === undefined
    ? Effect.fail(new ReportMediaTypeUnsupported({ mediaType: mediaType ?? "" }))
    : decodeReport(bytes, encoding, limits)
}
