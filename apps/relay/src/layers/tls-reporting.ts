/**
 * RFC 8460 TLS reporting on the relay: the fleet-wide session counters (the delivery binding
 * counts into them, `outbound-deliverer.ts`) and the daily report round (`@mailconnect/tlsrpt ›
 * ReportSender`) on a timer, its ports bound here — `_smtp._tls` TXT through the resolver of
 * RELAY_DNS_SERVERS (as MTA-STS discovery), report mail through our own delivery queue from the
 * null reverse path (flag `tlsReport`: no DSN, not counted in the next report).
 *
 * On when RELAY_TLSRPT_ORGANIZATION and RELAY_TLSRPT_CONTACT are set — set them on every relay
 * of the fleet, or the reports miss the sessions of the relays without them. RELAY_TLSRPT_SUBMITTER
 * (our domain; default the contact's domain), RELAY_TLSRPT_FROM (default the contact),
 * RELAY_TLSRPT_INTERVAL (seconds between rounds, default 900), RELAY_TLSRPT_HTTPS_CA (a PEM file
 * replacing the web PKI for https rua) and RELAY_TLSRPT_HTTPS_ALLOW_PRIVATE=on (POST to loopback and
 * private addresses, refused otherwise) — labs only.
 */
import { readFileSync } from "node:fs"
import { Enqueue } from "@mailconnect/delivery-queue"
import { makeMtaStsDns } from "@mailconnect/mta-sts"
import {
  ReportMailer,
  ReportSender,
  type SenderConfig,
  TlsReportNotDelivered,
  TlsRptDns,
  TlsRptDnsFailed,
} from "@mailconnect/tlsrpt"
import { Effect, Layer, Schedule } from "effect"

export interface TlsReportingOptions {
  readonly sender: Omit<SenderConfig, "holder">
  readonly intervalMs: number
  readonly dnsServers: ReadonlyArray<string> | undefined
}

const listOf = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)

/** undefined when reporting is off (no organisation or contact). */
export const tlsReportingOptionsFromEnv = (
  env: Readonly<Record<string, string | undefined>>,
): TlsReportingOptions | undefined => {
  const organization = env.RELAY_TLSRPT_ORGANIZATION?.trim()
  const contact = env.RELAY_TLSRPT_CONTACT?.trim()
  if (!organization || !contact) return undefined
  const address = contact.replace(/^mailto:/i, "")
  const submitter = env.RELAY_TLSRPT_SUBMITTER?.trim() || address.split("@")[1] || organization
  const servers = listOf(env.RELAY_DNS_SERVERS)
  const ca = env.RELAY_TLSRPT_HTTPS_CA?.trim()
  return {
    sender: {
      submitter: { organization, contact, domain: submitter.toLowerCase() },
      from: env.RELAY_TLSRPT_FROM?.trim() || (address.includes("@") ? address : `tlsrpt@${submitter}`),
      ...(ca ? { httpsCa: readFileSync(ca, "utf8") } : {}),
      ...(env.RELAY_TLSRPT_HTTPS_ALLOW_PRIVATE === "on" ? { httpsAllowPrivate: true } : {}),
    },
    intervalMs: Number(env.RELAY_TLSRPT_INTERVAL ?? 900) * 1000,
    dnsServers: servers.length > 0 ? servers : undefined,
  }
}

const dnsLayer = (servers: ReadonlyArray<string> | undefined) =>
  Layer.sync(TlsRptDns, () => {
    const dns = makeMtaStsDns(servers)
    return {
      txt: (name) =>
        dns.txt(name).pipe(Effect.mapError((e) => new TlsRptDnsFailed({ name, detail: e.detail }))),
    }
  })

/** Report mail is queued like any message, from `<>`, flagged so the worker knows it for what it is. */
const MailerFromQueue = Layer.effect(
  ReportMailer,
  Effect.map(Enqueue, (queue) => ({
    send: (recipient: string, body: Buffer) =>
      queue.enqueue({ sender: "", recipients: [recipient], body, tlsReport: true }).pipe(
        Effect.map((queued) => queued.messageId),
        Effect.mapError(
          (e) =>
            new TlsReportNotDelivered({
              rua: `mailto:${recipient}`,
              form: "queue-unavailable",
              detail: e.detail,
            }),
        ),
      ),
  })),
)

/** The report sender with its ports bound (needs the counters and the queue's `Enqueue`). */
export const reportSenderLayer = (options: TlsReportingOptions, relayId: string) =>
  ReportSender.layer({ ...options.sender, holder: relayId }).pipe(
    Layer.provide(Layer.merge(dnsLayer(options.dnsServers), MailerFromQueue)),
  )

/** The report round every `intervalMs`, from the start; a round's failure is logged and the next one runs. */
export const tlsReportRoundsLayer = (options: TlsReportingOptions, relayId: string) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const sender = yield* ReportSender
      const round = sender.round.pipe(
        Effect.tap((entries) =>
          Effect.forEach(
            entries,
            (e) =>
              Effect.logInfo("tls report").pipe(
                Effect.annotateLogs({ day: e.day, domain: e.domain, result: e.result._tag }),
                Effect.annotateLogs(
                  e.result._tag === "Sent"
                    ? { reportId: e.result.reportId, to: e.result.delivered.join(" ") }
                    : { reason: e.result.reason },
                ),
              ),
            { discard: true },
          ),
        ),
        Effect.catchAll((e) =>
          Effect.logWarning("tls report round failed").pipe(Effect.annotateLogs({ error: e.detail })),
        ),
      )
      yield* Effect.forkScoped(Effect.repeat(round, Schedule.spaced(options.intervalMs)))
    }),
  ).pipe(Layer.provide(reportSenderLayer(options, relayId)))
