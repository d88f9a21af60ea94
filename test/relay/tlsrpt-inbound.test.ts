/**
 * TLS reports mailed to our report address (RFC 8460 §5.3) through a real inbound MX listener
 * (smtp-inbound over STARTTLS with the test PKI, nodemailer as the reporter's MTA), with the
 * relay's binding in front of the real delivery queue (`withTlsReportMailbox` over
 * `IngressEnqueueFromQueue`) and a real Redis: a report mail is stored and not queued, the same
 * mail again is stored once, a message to the report address and a person stores the report and
 * queues the person only, a report Redis does not answer for gets 451 (and is stored once when sent again),
 * and a mail without a usable report is accepted, counted as refused and
 * not queued.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { DeliveryQueue, QueueAdmin } from "@mailconnect/delivery-queue"
import { PolicyView } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { IngressEnqueueFromQueue, withTlsReportMailbox } from "@mailconnect/relay"
import { fileUserDirectory, formatUsersFile, IngressPolicy, startIngress } from "@mailconnect/smtp-inbound"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { localDomain, policyWith } from "@mailconnect/test-support"
import type { TlsReport } from "@mailconnect/tlsrpt"
import { ReceivedReports, ReportDomains } from "@mailconnect/tlsrpt/inbound"
import { ConfigProvider, Effect, Either, Exit, Layer, Scope } from "effect"
import nodemailer from "nodemailer"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const REPORT_ADDRESS = "tlsrpt@customer.example"
const policy = policyWith([], { localDomains: [localDomain("customer.example")] })

let redis: RedisServer
let scope: Scope.CloseableScope
let mxPort: number
let rootPem: string
let usersDir: string
let run: <A, E>(effect: Effect.Effect<A, E, QueueAdmin | ReceivedReports>) => Promise<A>

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa()
  rootPem = root.certPem
  const relayCert = await root.issueServer({ names: ["relay.test"] })
  usersDir = mkdtempSync(join(tmpdir(), "mc-tlsrpt-users-"))
  writeFileSync(join(usersDir, "users"), formatUsersFile([]))
  scope = Effect.runSync(Scope.make())
  const base = Layer.mergeAll(
    RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redis.url, "tlsrpt-mail"))),
    PolicyView.fixed(policy, buildIndex(policy)),
    IngressPolicy.fixed(policy, buildIndex(policy)),
  )
  const queue = DeliveryQueue.layer.pipe(Layer.provideMerge(base))
  const redisClient = RedisClient.layer.pipe(Layer.provideMerge(queue))
  // Our domains: the policy's local domains, as the relay binds them from the active bundle.
  const ours = Layer.succeed(ReportDomains, {
    isOurs: (domain: string) => Effect.succeed(policy.localDomains[domain] !== undefined),
  })
  const layer = Layer.mergeAll(
    withTlsReportMailbox(IngressEnqueueFromQueue).pipe(Layer.provide(ours)),
    ReceivedReports.layer,
  ).pipe(
    Layer.provideMerge(redisClient),
    Layer.provide(
      Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["RELAY_TLSRPT_ADDRESS", REPORT_ADDRESS]]))),
    ),
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  run = (effect) => Effect.runPromise(Effect.provide(effect, context))
  const listeners = await Effect.runPromise(
    startIngress({
      hostname: "relay.test",
      listeners: [{ kind: "mx", host: "127.0.0.1", port: 0 }],
      tls: { key: relayCert.keyPem, cert: relayCert.chainPem, minVersion: "TLSv1.2" },
      limits: {
        maxMessageBytes: 256 * 1024,
        maxRecipients: 5,
        socketTimeoutMs: 30_000,
        drainTimeoutMs: 2_000,
      },
      users: fileUserDirectory(join(usersDir, "users"), () => undefined),
      events: { accepted: () => undefined, refused: () => undefined },
    }).pipe(Effect.provide(context), Scope.extend(scope)),
  )
  mxPort = listeners[0]!.boundPort
})

afterAll(async () => {
  // Listeners, queue and Redis connections close with the scope, also when a test failed.
  if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
  await redis?.stop()
  if (usersDir) rmSync(usersDir, { recursive: true, force: true })
})

const DAY = "2025-06-01"
const report = (id: string): TlsReport => ({
  "organization-name": "Big Mail Co",
  "date-range": { "start-datetime": `${DAY}T00:00:00Z`, "end-datetime": `${DAY}T23:59:59Z` },
  "contact-info": "tlsrpt-noreply@bigmail.example",
  "report-id": id,
  policies: [
    {
      policy: { "policy-type": "sts", "policy-domain": "customer.example", "mx-host": "mx.customer.example" },
      summary: { "total-successful-session-count": 90, "total-failure-session-count": 4 },
      "failure-details": [{ "result-type": "certificate-host-mismatch", "failed-session-count": 4 }],
    },
  ],
})

/** An RFC 8460 §5.3 report mail: multipart/report; report-type="tlsrpt" with the gzip report. */
const reportMail = (content: unknown, to: string) => {
  const boundary = "=_tlsrpt_boundary"
  const gz = gzipSync(JSON.stringify(content)).toString("base64").replace(/.{76}/g, "$&\r\n")
  return [
    "From: tlsrpt-noreply@bigmail.example",
    `To: ${to}`,
    "Subject: Report Domain: customer.example Submitter: bigmail.example Report-ID: <r>",
    "TLS-Report-Domain: customer.example",
    "TLS-Report-Submitter: bigmail.example",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain",
    "",
    "TLS report attached.",
    `--${boundary}`,
    'Content-Type: application/tlsrpt+gzip; name="bigmail.example!customer.example!1748736000!1748822399!r.json.gz"',
    "Content-Transfer-Encoding: base64",
    'Content-Disposition: attachment; filename="bigmail.example!customer.example!1748736000!1748822399!r.json.gz"',
    "",
    gz,
    `--${boundary}--`,
    "",
  ].join("\r\n")
}

/** Sends `raw` as a reporter's MTA would: STARTTLS to our MX, certificate checked. */
const deliver = async (raw: string, to: ReadonlyArray<string>) => {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: mxPort,
    requireTLS: true,
    tls: { servername: "relay.test", ca: rootPem },
  })
  try {
    const info = await transport.sendMail({
      envelope: { from: "tlsrpt-noreply@bigmail.example", to: [...to] },
      raw,
    })
    return info.response
  } finally {
    transport.close()
  }
}

/** The server's reply to the message, whether it took it or not. */
const reply = (raw: string, to: ReadonlyArray<string>) =>
  deliver(raw, to).catch((e: { response?: string }) => e.response ?? String(e))

const queuedId = (response: string) => /queued as (\S+)/.exec(response)![1]!
const showJobs = (id: string) =>
  run(
    Effect.flatMap(QueueAdmin, (q) => q.show(id)).pipe(
      Effect.map((view) => view.jobs.map((j) => j.data.recipients)),
      Effect.catchTag("MessageUnknown", () => Effect.succeed("unknown" as const)),
    ),
  )
const reports = () => run(Effect.flatMap(ReceivedReports, (r) => r.recent(20)))
const daily = () => run(Effect.flatMap(ReceivedReports, (r) => r.daily(Date.UTC(2025, 5, 2))))

describe("TLS reports mailed to the report address", () => {
  it("stores the report, answers 250 and queues nothing; the same mail again is stored once", async () => {
    const first = await deliver(reportMail(report("mail-1"), REPORT_ADDRESS), [REPORT_ADDRESS])
    expect(first).toMatch(/^250 /)
    expect(await showJobs(queuedId(first))).toBe("unknown")
    const again = await deliver(reportMail(report("mail-1"), REPORT_ADDRESS), [REPORT_ADDRESS])
    expect(again).toMatch(/^250 /)
    expect((await reports()).filter((r) => r.reportId === "mail-1")).toMatchObject([
      { organization: "Big Mail Co", via: "mailto", successful: 90, failed: 4 },
    ])
    const row = (await daily()).rows.find((r) => r.organization === "Big Mail Co")
    expect(row).toMatchObject({ reports: 1, successful: 90, failed: 4 })
    expect(row?.failuresByType).toEqual({ "certificate-host-mismatch": 4 })
  })

  it("stores the report and queues the message for the other recipient only", async () => {
    const to = [REPORT_ADDRESS, "bob@customer.example"]
    const response = await deliver(reportMail(report("mail-2"), to.join(", ")), to)
    expect(response).toMatch(/^250 /)
    expect(await showJobs(queuedId(response))).toEqual([["bob@customer.example"]])
    expect((await reports()).map((r) => r.reportId)).toContain("mail-2")
  })

  it("answers 451 while Redis does not answer, and stores the report once when the reporter tries again", async () => {
    const raw = reportMail(report("mail-4"), REPORT_ADDRESS)
    redis.pause()
    let answer: string
    try {
      answer = await reply(raw, [REPORT_ADDRESS])
    } finally {
      redis.resume()
    }
    expect(answer).toMatch(/^451 4\.3\.0 /)
    // A timed-out write may still land once Redis answers again; sending again is safe either way.
    expect(await reply(raw, [REPORT_ADDRESS])).toMatch(/^250 /)
    expect((await reports()).filter((r) => r.reportId === "mail-4")).toHaveLength(1)
  })

  it("accepts a report about none of our domains, stores nothing and counts it as not-our-domain", async () => {
    const base = report("mail-5")
    const stranger = {
      ...base,
      policies: base.policies.map((p) => ({
        ...p,
        policy: { ...p.policy, "policy-domain": "elsewhere.example" },
      })),
    }
    const response = await deliver(reportMail(stranger, REPORT_ADDRESS), [REPORT_ADDRESS])
    expect(response).toMatch(/^250 /)
    expect((await reports()).map((r) => r.reportId)).not.toContain("mail-5")
    const refused = await run(Effect.flatMap(ReceivedReports, (r) => r.rejected(Date.now())))
    expect(refused).toContainEqual(
      expect.objectContaining({ via: "mailto", reason: "not-our-domain", count: 1 }),
    )
  })

  it("accepts a mail without a usable report, counts it as refused and queues nothing", async () => {
    const invalid = { ...report("mail-3"), policies: [] }
    const response = await deliver(reportMail(invalid, REPORT_ADDRESS), [REPORT_ADDRESS])
    expect(response).toMatch(/^250 /)
    expect(await showJobs(queuedId(response))).toBe("unknown")
    expect((await reports()).map((r) => r.reportId)).not.toContain("mail-3")
    const refused = await run(Effect.flatMap(ReceivedReports, (r) => r.rejected(Date.now())))
    expect(refused).toContainEqual(expect.objectContaining({ via: "mailto", reason: "invalid", count: 1 }))
  })
})
