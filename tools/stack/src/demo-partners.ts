/**
 * The two demo partners, real SMTP servers from the partner lab on loopback: `good-partner.demo`
 * presents a valid certificate from the dev CA (enforced TLS succeeds), `broken-partner.demo` an
 * expired one (enforced TLS refuses it: CERT_EXPIRED, the mail waits). Plus the lab DNS server
 * the relay resolves with, so no name the relay looks up ever leaves this machine. Each received
 * message is announced on the console.
 */
import {
  type LabDns,
  type RunningSmtpServer,
  startLabDns,
  startSmtpLabServer,
} from "@mailconnect/partner-lab"
import { Effect, Schedule } from "effect"
import type { DemoServerCert, StackPki } from "./pki"

export const DEMO_DOMAINS = { good: "good-partner.demo", broken: "broken-partner.demo" } as const

export interface DemoPartner {
  readonly domain: string
  readonly certName: string
  readonly host: string
  readonly port: number
  readonly server: RunningSmtpServer
}

export interface DemoPartners {
  readonly good: DemoPartner
  readonly broken: DemoPartner
  readonly dns: LabDns
}

const partnerServer = (domain: string, cert: DemoServerCert) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      startSmtpLabServer({ name: cert.name, host: "127.0.0.1", cert: cert.cert, key: cert.key }),
    ),
    (server) => Effect.promise(() => server.stop()),
  ).pipe(
    Effect.map(
      (server): DemoPartner => ({
        domain,
        certName: cert.name,
        host: server.host,
        port: server.port,
        server,
      }),
    ),
  )

export const startDemoPartners = (pki: StackPki) =>
  Effect.gen(function* () {
    const dns = yield* Effect.acquireRelease(
      Effect.promise(() => startLabDns("127.0.0.1")),
      (dns) => Effect.promise(() => dns.stop()),
    )
    const good = yield* partnerServer(DEMO_DOMAINS.good, pki.good)
    const broken = yield* partnerServer(DEMO_DOMAINS.broken, pki.broken)
    for (const partner of [good, broken]) {
      dns.set(partner.certName, [{ type: "A", address: partner.host }])
      dns.set(partner.domain, [{ type: "MX", preference: 10, exchange: partner.certName }])
    }
    return { good, broken, dns } satisfies DemoPartners
  })

/** Prints one line per message a demo partner received, for as long as the stack runs. */
export const announceDeliveries = (partners: DemoPartners, log: (line: string) => void) => {
  const seen = new Set<unknown>()
  const check = Effect.sync(() => {
    for (const partner of [partners.good, partners.broken])
      for (const connection of partner.server.recorder.connections)
        for (const message of connection.transactions) {
          if (message.body === undefined || seen.has(message)) continue
          seen.add(message)
          log(
            `${partner.domain} received a message from <${message.mailFrom}> for ${message.rcptTo.map((r) => `<${r}>`).join(", ")} over ${connection.tls?.protocol ?? "plaintext"}`,
          )
        }
  })
  return check.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.asVoid)
}
