/**
 * TLS reporting (RFC 8460) end to end: a day of deliveries through the queue and the real
 * outbound adapter (MTA-STS discovered on a lab DNS server, policies fetched from a lab policy
 * host, real SMTP servers), each session counted in a real Redis; then the next day's report
 * round of two relays at once: for every domain that publishes `_smtp._tls`, one report, valid by
 * the RFC 8460 schema, with the exact counts — arriving once at the lab SMTP server as a gzip
 * attachment (queued like any message, from `<>`) and once at a lab HTTPS endpoint. The report
 * mail's own session is not counted.
 */
import { createServer, type Server } from "node:https"
import type { AddressInfo } from "node:net"
import { gunzipSync } from "node:zlib"
import { Enqueue, QueueAdmin } from "@mailconnect/delivery-queue"
import {
  type MtaStsHost,
  type RunningSmtpServer,
  startMtaStsHost,
  startSmtpLabServer,
} from "@mailconnect/partner-lab"
import { reportSenderLayer } from "@mailconnect/relay"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { ReportSender, type TlsReport, TlsReportCounters, utcDay, validateReport } from "@mailconnect/tlsrpt"
import { Clock, Effect, Either, Option, TestClock, TestContext } from "effect"
import { simpleParser } from "mailparser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually, firstAttempt, outboundWorkerLayer, policySet, uniquePrefix } from "./harness"

const domainOf = (label: string) => `${label}.rpt.example`
const REPORTS = "reports.rpt.example"
/** Domains with a report address; `none.rpt.example` publishes none (its sessions are counted, never sent). */
const REPORTED = [
  "enforce",
  "wrong-name",
  "testing-wrong-name",
  "not-listed",
  "untrusted-host",
  "no-policy-file",
].map(domainOf)

let redis: RedisServer
let host: MtaStsHost
let smtp: RunningSmtpServer
let https: Server
let roots = ""
const posts: Array<{ readonly contentType: string | undefined; readonly body: Buffer }> = []

beforeAll(async () => {
  redis = await startRedis()
  host = await startMtaStsHost()
  const root = await createRootCa({ commonName: "tlsrpt lab root" })
  const names = ["enforce", "not-listed", "none", "testing"].map((l) => `mx.${domainOf(l)}`)
  const cert = await root.issueServer({ names: [...names, `mx.${REPORTS}`] })
  smtp = await startSmtpLabServer({ name: "rpt", cert: cert.chainPem, key: cert.keyPem, host: "127.0.0.1" })
  const web = await root.issueServer({ names: ["localhost"] })
  https = createServer({ cert: web.chainPem, key: web.keyPem }, (request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (c: Buffer) => chunks.push(c))
    request.on("end", () => {
      posts.push({ contentType: request.headers["content-type"], body: Buffer.concat(chunks) })
      response.writeHead(201).end()
    })
  })
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r))
  roots = `${host.ca}\n${root.certPem}`
  const rua = `v=TLSRPTv1; rua=mailto:tlsrpt@${REPORTS},https://localhost:${(https.address() as AddressInfo).port}/tlsrpt`
  for (const label of [
    "enforce",
    "wrong-name",
    "testing-wrong-name",
    "not-listed",
    "none",
    "untrusted-host",
    "no-policy-file",
  ]) {
    const domain = domainOf(label)
    host.dns.set(domain, [{ type: "MX", preference: 10, exchange: `mx.${domain}` }])
    host.dns.set(`mx.${domain}`, [{ type: "A", address: "127.0.0.1" }])
    if (label !== "none") host.dns.set(`_smtp._tls.${domain}`, [{ type: "TXT", data: rua }])
    if (label === "none") continue
    // Announced (TXT id) but not to be had: a policy host with a certificate from another CA, a 404.
    if (label === "untrusted-host") await host.publish(domain, { certificate: "untrusted" })
    else if (label === "no-policy-file") await host.publish(domain, { served: { status: 404 } })
    else
      await host.publish(domain, {
        policy: {
          mode: label.startsWith("testing") ? "testing" : "enforce",
          mx: [label === "not-listed" ? "mx.elsewhere.example" : `mx.${domain}`],
        },
      })
  }
  host.dns.set(REPORTS, [{ type: "MX", preference: 10, exchange: `mx.${REPORTS}` }])
  host.dns.set(`mx.${REPORTS}`, [{ type: "A", address: "127.0.0.1" }])
})
afterAll(async () => {
  await new Promise((r) => https?.close(r))
  await smtp?.stop()
  await host?.stop()
  await redis?.stop()
})

const messagesTo = (domain: string) =>
  smtp.recorder.messages().filter((m) => m.rcptTo.some((r) => r.endsWith(`@${domain}`)))
const connectionsFor = (domain: string) =>
  smtp.recorder.connections.filter((c) =>
    c.transactions.some((t) => t.rcptTo.some((r) => r.endsWith(`@${domain}`))),
  )

describe("TLS reports for a day of deliveries", () => {
  it("are built from the fleet's counts, valid, exact, and sent once to each rua", async () => {
    const prefix = uniquePrefix("tlsrpt")
    const worker = outboundWorkerLayer({
      redisUrl: redis.url,
      prefix,
      policy: policySet([]),
      mxPort: smtp.port,
      tlsReports: true,
      standards: { dane: undefined, mtaSts: { dnsServers: [host.dns.server], ca: roots, port: host.port } },
    })
    const options = {
      sender: {
        submitter: { organization: "Mailconnect Lab", contact: "tlsrpt@relay.test", domain: "relay.test" },
        from: "tlsrpt@relay.test",
        httpsCa: roots,
        httpsAllowPrivate: true,
      },
      intervalMs: 60_000,
      dnsServers: [host.dns.server],
    }
    const outcome = await Effect.runPromise(
      Effect.gen(function* () {
        const queue = yield* Enqueue
        // The worker's counters (the harness adds them with `tlsReports`); the senders read them.
        const counters = Option.getOrThrow(yield* Effect.serviceOption(TlsReportCounters))
        const admin = yield* QueueAdmin
        const attempted = (messageId: string) =>
          eventually(
            admin
              .show(messageId)
              .pipe(Effect.map((v) => (v.jobs[0]?.data.attemptCount ?? 0) >= 1 || undefined)),
          )
        const send = (recipient: string) =>
          queue
            .enqueue({
              sender: "alice@customer.example",
              recipients: [recipient],
              body: Buffer.from(`Subject: to ${recipient}\r\n\r\nhello\r\n`),
            })
            .pipe(Effect.flatMap(({ messageId }) => attempted(messageId)))
        // One after the other: the second message to enforce may ride the first one's session.
        for (const label of [
          "enforce",
          "enforce",
          "wrong-name",
          "testing-wrong-name",
          "not-listed",
          "none",
          "untrusted-host",
          "no-policy-file",
        ])
          yield* send(`bob@${domainOf(label)}`)
        const today = utcDay(yield* Clock.currentTimeMillis)

        // The next day, two relays run their round at the same moment.
        const tomorrow = Date.parse(`${today}T00:00:00Z`) + 86_400_000 + 600_000
        const round = (holder: string) =>
          Effect.flatMap(ReportSender, (s) => s.round).pipe(
            Effect.provide(reportSenderLayer(options, holder)),
            Effect.provideService(TlsReportCounters, counters),
          )
        const rounds = yield* TestClock.setTime(tomorrow).pipe(
          Effect.zipRight(Effect.all([round("relay-a"), round("relay-b")], { concurrency: 2 })),
          Effect.provide(TestContext.TestContext),
        )
        // The report mails go through the queue and the worker like any message.
        yield* eventually(
          Effect.sync(() => (messagesTo(REPORTS).length >= REPORTED.length ? true : undefined)),
        )
        return { rounds, today, countedToday: yield* counters.domains(today) }
      }).pipe(Effect.scoped, Effect.provide(worker)),
    )

    // Each domain's report was sent by exactly one of the two relays; none.rpt.example has no record.
    const entries = outcome.rounds.flat()
    for (const domain of REPORTED)
      expect(entries.filter((e) => e.domain === domain && e.result._tag === "Sent")).toHaveLength(1)
    expect(entries.filter((e) => e.domain === domainOf("none"))).toMatchObject([
      { result: { _tag: "NoRecord", reason: "none" } },
    ])
    // The report mails' own sessions are not in any count.
    expect(outcome.countedToday).not.toContain(REPORTS)
    expect(outcome.countedToday).toEqual([...REPORTED, domainOf("none")].sort())

    // By mail: one message per domain, from <>, a gzip attachment with the RFC's name.
    const mails = messagesTo(REPORTS)
    expect(mails).toHaveLength(REPORTED.length)
    const mailed = new Map<string, TlsReport>()
    for (const mail of mails) {
      expect(mail.mailFrom).toBe("")
      const parsed = await simpleParser(mail.body!)
      expect(parsed.headers.get("content-type")).toMatchObject({
        value: "multipart/report",
        params: { "report-type": "tlsrpt" },
      })
      const domain = String(parsed.headers.get("tls-report-domain"))
      expect(parsed.headers.get("tls-report-submitter")).toBe("relay.test")
      const [attachment] = parsed.attachments
      expect(attachment?.contentType).toBe("application/tlsrpt+gzip")
      expect(attachment?.filename).toMatch(
        new RegExp(`^relay\\.test!${domain.replace(/\./g, "\\.")}!\\d+!\\d+!.+\\.json\\.gz$`),
      )
      const report = Either.getOrThrow(validateReport(JSON.parse(gunzipSync(attachment!.content).toString())))
      mailed.set(domain, report)
    }
    expect([...mailed.keys()].sort()).toEqual([...REPORTED].sort())

    // By HTTPS: the same reports, once each.
    expect(posts).toHaveLength(REPORTED.length)
    for (const post of posts) {
      expect(post.contentType).toBe("application/tlsrpt+gzip")
      const report = Either.getOrThrow(validateReport(JSON.parse(gunzipSync(post.body).toString())))
      const domain = report.policies[0]!.policy["policy-domain"]
      expect(report).toEqual(mailed.get(domain))
    }

    const report = (label: string) => mailed.get(domainOf(label))!
    const day = outcome.today
    expect(report("enforce")).toMatchObject({
      "organization-name": "Mailconnect Lab",
      "contact-info": "tlsrpt@relay.test",
      "date-range": { "start-datetime": `${day}T00:00:00Z`, "end-datetime": `${day}T23:59:59Z` },
    })
    const sts = (label: string, mode: string, mx: string) => ({
      "policy-type": "sts",
      "policy-string": ["version: STSv1", `mode: ${mode}`, `mx: ${mx}`],
      "policy-domain": domainOf(label),
    })
    // Two messages, as many sessions as the server saw connections (a reused one is one session).
    expect(report("enforce").policies).toEqual([
      {
        policy: sts("enforce", "enforce", `mx.${domainOf("enforce")}`),
        summary: {
          "total-successful-session-count": connectionsFor(domainOf("enforce")).length,
          "total-failure-session-count": 0,
        },
      },
    ])
    expect(messagesTo(domainOf("enforce"))).toHaveLength(2)
    const mismatch = (label: string) => ({
      "result-type": "certificate-host-mismatch",
      "receiving-mx-hostname": `mx.${domainOf(label)}`,
      "receiving-ip": "127.0.0.1",
      "failure-reason-code": "CERT_NAME_MISMATCH",
      "failed-session-count": 1,
    })
    expect(report("wrong-name").policies).toEqual([
      {
        policy: sts("wrong-name", "enforce", `mx.${domainOf("wrong-name")}`),
        summary: { "total-successful-session-count": 0, "total-failure-session-count": 1 },
        "failure-details": [mismatch("wrong-name")],
      },
    ])
    // testing: delivered all the same, and reported as the failure it would be under enforce.
    expect(messagesTo(domainOf("testing-wrong-name"))).toHaveLength(1)
    expect(report("testing-wrong-name").policies).toEqual([
      {
        policy: sts("testing-wrong-name", "testing", `mx.${domainOf("testing-wrong-name")}`),
        summary: { "total-successful-session-count": 0, "total-failure-session-count": 1 },
        "failure-details": [mismatch("testing-wrong-name")],
      },
    ])
    // An announced policy that could not be had: delivered as opportunistic, reported under sts.
    const unavailable = (label: string, type: string, code: string) => ({
      policy: { "policy-type": "sts", "policy-domain": domainOf(label) },
      summary: { "total-successful-session-count": 0, "total-failure-session-count": 1 },
      "failure-details": [
        {
          "result-type": type,
          "receiving-mx-hostname": `mx.${domainOf(label)}`,
          "receiving-ip": "127.0.0.1",
          "failure-reason-code": code,
          "failed-session-count": 1,
        },
      ],
    })
    expect(messagesTo(domainOf("untrusted-host"))).toHaveLength(1)
    expect(report("untrusted-host").policies).toEqual([
      unavailable("untrusted-host", "sts-webpki-invalid", "fetch-failed MtaStsFetchFailed tls"),
    ])
    expect(report("no-policy-file").policies).toEqual([
      unavailable("no-policy-file", "sts-policy-fetch-error", "fetch-failed MtaStsFetchFailed http-status"),
    ])
    // No MX in the policy: no session at all, one failure of the policy.
    expect(report("not-listed").policies).toEqual([
      {
        policy: sts("not-listed", "enforce", "mx.elsewhere.example"),
        summary: { "total-successful-session-count": 0, "total-failure-session-count": 1 },
        "failure-details": [
          {
            "result-type": "validation-failure",
            "receiving-mx-hostname": `mx.${domainOf("not-listed")}`,
            "failure-reason-code": "MTA_STS_MX_MISMATCH",
            "failed-session-count": 1,
          },
        ],
      },
    ])
  })
})

describe("counting TLS sessions", () => {
  it("never holds a delivery up: with the counters' Redis down the message is delivered", async () => {
    const gone = await startRedis()
    await gone.stop()
    const recipient = `carol@${domainOf("none")}`
    const job = await firstAttempt(
      {
        redisUrl: redis.url,
        prefix: uniquePrefix("tlsrpt-down"),
        policy: policySet([]),
        mxPort: smtp.port,
        tlsReports: true,
        tlsReportsRedisUrl: gone.url,
        standards: { dane: undefined, mtaSts: { dnsServers: [host.dns.server], ca: roots, port: host.port } },
      },
      recipient,
    )
    expect(job.data.results).toMatchObject([{ recipient, outcome: "delivered" }])
    expect(messagesTo(domainOf("none")).filter((m) => m.rcptTo.includes(recipient))).toHaveLength(1)
  })
})
