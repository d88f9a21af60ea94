/**
 * One received report, whatever it came by: decode and validate it, then store it — or count it
 * as rejected, by reason, so the dashboard shows refused reports too. Time comes from `Clock`.
 * A rejection is counted best-effort: it is already an answer to the sender, and a Redis hiccup
 * while counting it must not turn it into a different one.
 */
import { Clock, Context, Effect, Option } from "effect"
import type { ReceivedTlsReport } from "../schema"
import { DEFAULT_LIMITS, decodeReportAs, type ReportLimits } from "./decode"
import {
  type ReceivedReportsUnavailable,
  ReportNotOurs,
  type ReportRejected,
  rejectionReason,
} from "./errors"
import { reportFromMail } from "./mail"
import { ReceivedReports, type StoreOutcome } from "./store"
import type { ReportChannel } from "./summary"

export interface Received {
  readonly outcome: StoreOutcome
  readonly report: ReceivedTlsReport
}

/**
 * Which policy domains are ours (the relay binds it to the active bundle's local domains). A
 * report none of whose policies is about one of them is refused (`ReportNotOurs`): a stranger
 * cannot fill our store and dashboard with reports about other people's domains. Without the
 * port (a store of its own, tests) every valid report is taken.
 */
export class ReportDomains extends Context.Tag("@mailconnect/tlsrpt/ReportDomains")<
  ReportDomains,
  { readonly isOurs: (domain: string) => Effect.Effect<boolean> }
>() {}

const checkOurs = (report: ReceivedTlsReport) =>
  Effect.flatMap(Effect.serviceOption(ReportDomains), (port) => {
    if (Option.isNone(port)) return Effect.succeed(report)
    const domains = [
      ...new Set(report.policies.map((p) => p.policy["policy-domain"].toLowerCase().replace(/\.$/, ""))),
    ]
    return Effect.flatMap(
      Effect.forEach(domains, (d) => port.value.isOurs(d)),
      (ours) => (ours.some(Boolean) ? Effect.succeed(report) : Effect.fail(new ReportNotOurs({ domains }))),
    )
  })

const storeOrCount = <R>(
  via: ReportChannel,
  decoded: Effect.Effect<ReceivedTlsReport, ReportRejected, R>,
): Effect.Effect<Received, ReportRejected | ReceivedReportsUnavailable, R | ReceivedReports> =>
  Effect.gen(function* () {
    const reports = yield* ReceivedReports
    const report = yield* decoded.pipe(
      Effect.flatMap(checkOurs),
      Effect.tapError((error) =>
        Clock.currentTimeMillis.pipe(
          Effect.flatMap((at) => reports.recordRejected(rejectionReason(error), via, at)),
          Effect.ignore,
        ),
      ),
    )
    const outcome = yield* reports.store(report, via, yield* Clock.currentTimeMillis)
    return { outcome, report }
  })

/** A report POSTed with `mediaType` as its Content-Type. */
export const receiveHttpsReport = (
  body: Buffer,
  mediaType: string | undefined,
  limits: ReportLimits = DEFAULT_LIMITS,
) => storeOrCount("https", decodeReportAs(body, mediaType, limits))

/** A report mail (the whole message as received). */
export const receiveMailReport = (raw: Buffer, limits: ReportLimits = DEFAULT_LIMITS) =>
  storeOrCount("mailto", reportFromMail(raw, limits))
