/**
 * The daily report round (RFC 8460 §4.1: one report per policy domain and UTC day). Every
 * relay runs it on a timer; for each domain with sessions on a finished day, the relay that
 * claims it (a lease in Redis) looks up `_smtp._tls`, builds the report from the fleet's counts
 * and sends it to each `rua` — mail through our own queue, `https:` by POST — then marks it done.
 * So two relays never send the same report; a round that fails (DNS, every rua refused)
 * releases the claim and the next round tries again, until the day is older than `daysBack`.
 */
import { randomUUID } from "node:crypto"
import { Clock, Context, Effect, Either, Layer } from "effect"
import { buildReport, compressReport, type Submitter } from "./build"
import { type DomainDay, TlsReportCounters } from "./counters"
import type { TlsReportNotDelivered } from "./errors"
import { reportMessage } from "./mail"
import { ReportMailer, TlsRptDns } from "./ports"
import { postReport } from "./post"
import { parseTlsRptRecords, type Rua, tlsRptName } from "./record"
import { utcDay } from "./session"

const DAY = 86_400_000
/** A record may name more; a report goes to the first few (one domain cannot make us mail a list). */
export const MAX_RUA = 5

export interface SenderConfig {
  readonly submitter: Submitter
  /** The report mails' From: header. */
  readonly from: string
  /** Who claims a report: the relay id. */
  readonly holder: string
  /** How long a claim holds while its report is sent (default 10 minutes). */
  readonly leaseMs?: number
  /** Finished days still reported (default 2: yesterday and the day before). */
  readonly daysBack?: number
  /** HTTPS posts: roots replacing the public ones (labs), and the time limit. */
  readonly httpsCa?: string
  /** Labs only: `https:` rua on loopback or private addresses (refused otherwise, `address.ts`). */
  readonly httpsAllowPrivate?: boolean
  readonly httpsTimeoutMs?: number
}

/** What became of one domain's report in a round. */
export type RoundEntry = DomainDay & {
  readonly result:
    | {
        readonly _tag: "Sent"
        readonly reportId: string
        readonly delivered: ReadonlyArray<string>
        readonly failed: ReadonlyArray<TlsReportNotDelivered>
      }
    | { readonly _tag: "NoRecord"; readonly reason: string }
    | { readonly _tag: "Retry"; readonly reason: string }
}

export const makeReportSender = (config: SenderConfig) =>
  Effect.gen(function* () {
    const counters = yield* TlsReportCounters
    const dns = yield* TlsRptDns
    const mailer = yield* ReportMailer
    const leaseMs = config.leaseMs ?? 10 * 60_000
    const post = {
      timeoutMs: config.httpsTimeoutMs ?? 30_000,
      ...(config.httpsCa ? { ca: config.httpsCa } : {}),
      ...(config.httpsAllowPrivate ? { allowPrivate: true } : {}),
    }

    const deliverTo = (rua: Rua, gzip: Buffer, mail: (to: string) => Buffer) =>
      rua.scheme === "mailto"
        ? mailer.send(rua.address, mail(rua.address)).pipe(Effect.as(rua.uri))
        : postReport(rua.uri, gzip, post).pipe(Effect.as(rua.uri))

    const reportOne = (at: DomainDay, now: number): Effect.Effect<RoundEntry["result"]> =>
      Effect.gen(function* () {
        const txt = yield* dns.txt(tlsRptName(at.domain)).pipe(Effect.either)
        if (Either.isLeft(txt)) return { _tag: "Retry" as const, reason: `dns: ${txt.left.detail}` }
        const record = parseTlsRptRecords(txt.right)
        if (record._tag === "NoRecord") return { _tag: "NoRecord" as const, reason: record.reason }
        const policies = yield* counters.results(at)
        const report = buildReport({
          submitter: config.submitter,
          reportId: randomUUID(),
          day: at.day,
          policies,
        })
        const gzip = compressReport(report)
        const mail = (to: string) =>
          reportMessage({
            submitter: config.submitter,
            from: config.from,
            to,
            policyDomain: at.domain,
            report,
            gzip,
            now,
          }).body
        const outcomes = yield* Effect.forEach(record.rua.slice(0, MAX_RUA), (rua) =>
          Effect.either(deliverTo(rua, gzip, mail)),
        )
        const delivered = outcomes.flatMap((o) => (Either.isRight(o) ? [o.right] : []))
        const failed = outcomes.flatMap((o) => (Either.isLeft(o) ? [o.left] : []))
        if (delivered.length === 0)
          return { _tag: "Retry" as const, reason: failed.map((f) => `${f.rua}: ${f.detail}`).join("; ") }
        return { _tag: "Sent" as const, reportId: report["report-id"], delivered, failed }
      }).pipe(
        Effect.catchTag("TlsReportStoreUnavailable", (e) =>
          Effect.succeed({ _tag: "Retry" as const, reason: `redis: ${e.detail}` }),
        ),
      )

    /** One round at the Clock's now: the finished days' unclaimed reports. */
    const round = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const days = Array.from({ length: config.daysBack ?? 2 }, (_, i) => utcDay(now - (i + 1) * DAY))
      const entries: Array<RoundEntry> = []
      for (const day of days)
        for (const domain of yield* counters.domains(day)) {
          const at = { day, domain }
          if (!(yield* counters.claim(at, config.holder, leaseMs))) continue
          const result = yield* reportOne(at, now)
          if (result._tag === "Retry") yield* counters.release(at, config.holder)
          else
            yield* counters.done(
              at,
              JSON.stringify(
                result._tag === "Sent"
                  ? { sent: result.reportId, to: result.delivered }
                  : { none: result.reason },
              ),
            )
          entries.push({ ...at, result })
        }
      return entries as ReadonlyArray<RoundEntry>
    })
    return { round }
  })

export class ReportSender extends Context.Tag("@mailconnect/tlsrpt/ReportSender")<
  ReportSender,
  Effect.Effect.Success<ReturnType<typeof makeReportSender>>
>() {
  static layer = (config: SenderConfig) => Layer.effect(ReportSender, makeReportSender(config))
}
