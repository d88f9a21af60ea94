/**
 * Receiving RFC 8460 TLS reports for our own domains (`@mailconnect/tlsrpt/inbound`), both ways
 * the `rua` of our `_smtp._tls` record may name:
 *
 * - `TlsReportEndpointLayer`: the HTTPS endpoint, when `RELAY_TLSRPT_HTTPS_PORT` is set, on
 *   `RELAY_TLSRPT_HTTPS_HOST` (default `0.0.0.0`) at `RELAY_TLSRPT_HTTPS_PATH` (default `/tlsrpt`),
 *   with `RELAY_TLSRPT_CERT` / `RELAY_TLSRPT_KEY` (default `RELAY_MTA_STS_CERT` / `_KEY`: one
 *   certificate often names both hosts). It serves only that path, so it may face the Internet.
 * - `withTlsReportMailbox(enqueue)`: smtp-inbound's `Enqueue` port wrapped so that mail to
 *   `RELAY_TLSRPT_ADDRESS` (one or more addresses, comma-separated) is parsed and stored as a
 *   report instead of queued. The 250 comes only once the report is in Redis (Redis away: 451,
 *   the reporter tries again, and a report sent twice is stored once). A mail that carries no
 *   usable report is accepted all the same and counted as refused on the dashboard, not bounced:
 *   reports come from auto-submitted `noreply` senders that read no bounces, and a 5xx would only
 *   make their MTA retry or raise alarms nobody sees. Other recipients of the same message are
 *   queued as usual.
 */
import { FileSystem } from "@effect/platform"
import { ActivePolicy } from "@mailconnect/policy-store"
import type { RedisClient } from "@mailconnect/redis-client"
import { Enqueue, type InboundMessage, QueueUnavailable } from "@mailconnect/smtp-inbound"
import {
  inboundHttpsLayer,
  ReceivedReports,
  ReportDomains,
  receiveMailReport,
} from "@mailconnect/tlsrpt/inbound"
import { Config, type ConfigError, Effect, Layer, Option } from "effect"

/**
 * Our domains are the active bundle's local domains: a report about none of them is refused
 * (403 over HTTPS; by mail accepted and dropped), counted as `not-our-domain`. Without a bundle
 * no domain is ours yet.
 */
export const ReportDomainsFromActivePolicy = Layer.effect(
  ReportDomains,
  Effect.map(ActivePolicy, (policy) => ({
    isOurs: (domain: string) =>
      Effect.map(policy.current, (active) =>
        Option.match(active, {
          onNone: () => false,
          onSome: (b) => b.lookup.localDomain(domain) !== undefined,
        }),
      ),
  })),
)

const httpsConfig = Config.all({
  port: Config.option(Config.port("RELAY_TLSRPT_HTTPS_PORT")),
  host: Config.string("RELAY_TLSRPT_HTTPS_HOST").pipe(Config.withDefault("0.0.0.0")),
  path: Config.string("RELAY_TLSRPT_HTTPS_PATH").pipe(Config.withDefault("/tlsrpt")),
  cert: Config.string("RELAY_TLSRPT_CERT").pipe(
    Config.orElse(() => Config.string("RELAY_MTA_STS_CERT")),
    Config.withDefault(""),
  ),
  key: Config.string("RELAY_TLSRPT_KEY").pipe(
    Config.orElse(() => Config.string("RELAY_MTA_STS_KEY")),
    Config.withDefault(""),
  ),
})

/** The HTTPS report endpoint, open while the layer is; nothing when the port is unset. Needs `RedisClient`. */
export const TlsReportEndpointLayer = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* httpsConfig
    if (Option.isNone(config.port)) return Layer.empty
    if (config.cert === "" || config.key === "")
      return yield* Effect.dieMessage(
        "RELAY_TLSRPT_HTTPS_PORT needs RELAY_TLSRPT_CERT and RELAY_TLSRPT_KEY (or RELAY_MTA_STS_CERT and RELAY_MTA_STS_KEY)",
      )
    const fs = yield* FileSystem.FileSystem
    const [cert, key] = yield* Effect.all([fs.readFileString(config.cert), fs.readFileString(config.key)])
    return inboundHttpsLayer({
      host: config.host,
      port: config.port.value,
      path: config.path,
      cert,
      key,
    }).pipe(Layer.provide(Layer.merge(ReceivedReports.layer, ReportDomainsFromActivePolicy)))
  }),
)

/** `RELAY_TLSRPT_ADDRESS`, lower-cased: envelope addresses arrive normalised (A-label domains). */
const reportAddresses = Config.string("RELAY_TLSRPT_ADDRESS").pipe(
  Config.withDefault(""),
  Config.map(
    (text) =>
      new Set(
        text
          .split(",")
          .map((a) => a.trim().toLowerCase())
          .filter((a) => a.length > 0),
      ),
  ),
)

/** The message's report recipients, and the others. */
export const splitRecipients = (message: InboundMessage, addresses: ReadonlySet<string>) => {
  const isReport = (r: string) => addresses.has(r.toLowerCase())
  return {
    reports: message.recipients.filter(isReport),
    others: message.recipients.filter((r) => !isReport(r)),
  }
}

/** Stores the report a mail carries; an unusable one is counted (by `receiveMailReport`) and accepted. */
const takeReport = (message: InboundMessage) =>
  receiveMailReport(message.body).pipe(
    Effect.tap(({ outcome, report }) =>
      Effect.logInfo("TLS report received by mail").pipe(
        Effect.annotateLogs({
          queueId: message.messageId,
          outcome,
          organization: report["organization-name"],
          reportId: report["report-id"],
        }),
      ),
    ),
    Effect.asVoid,
    Effect.catchTags({
      ReceivedReportsUnavailable: (e) =>
        Effect.fail(new QueueUnavailable({ operation: "tlsrpt-store", detail: e.detail })),
      ReportTooLarge: (e) => refused(message, e._tag, e.stage),
      ReportMediaTypeUnsupported: (e) => refused(message, e._tag, e.mediaType),
      ReportUndecodable: (e) => refused(message, e._tag, e.form),
      ReportInvalid: (e) => refused(message, e._tag, e.violations[0]?.path ?? ""),
      ReportMailUnusable: (e) => refused(message, e._tag, e.form),
      ReportNotOurs: (e) => refused(message, e._tag, e.domains.join(" ")),
    }),
  )

const refused = (message: InboundMessage, reason: string, detail: string) =>
  Effect.logWarning("TLS report mail refused (accepted, not stored)").pipe(
    Effect.annotateLogs({ queueId: message.messageId, sender: message.sender, reason, detail }),
  )

/**
 * `enqueue` with the report mailbox in front of it; `enqueue` itself when RELAY_TLSRPT_ADDRESS is
 * unset. Needs `RedisClient` for the reports.
 */
export const withTlsReportMailbox = <E, R>(
  enqueue: Layer.Layer<Enqueue, E, R>,
): Layer.Layer<Enqueue, E | ConfigError.ConfigError, R | RedisClient | ReportDomains> =>
  Layer.unwrapEffect(
    Effect.map(reportAddresses, (addresses) =>
      addresses.size === 0
        ? enqueue
        : Layer.effect(
            Enqueue,
            Effect.gen(function* () {
              const inner = yield* Enqueue
              const reports = yield* ReceivedReports
              const domains = yield* ReportDomains
              return {
                newQueueId: inner.newQueueId,
                enqueue: (message: InboundMessage) => {
                  const { reports: mailbox, others } = splitRecipients(message, addresses)
                  if (mailbox.length === 0) return inner.enqueue(message)
                  return takeReport(message).pipe(
                    Effect.provideService(ReceivedReports, reports),
                    Effect.provideService(ReportDomains, domains),
                    Effect.zipRight(
                      others.length === 0
                        ? Effect.succeed({ messageId: message.messageId })
                        : inner.enqueue({ ...message, recipients: others }),
                    ),
                  )
                },
              }
            }),
          ).pipe(Layer.provide(Layer.merge(enqueue, ReceivedReports.layer))),
    ),
  )
