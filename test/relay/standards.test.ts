/**
 * DANE and MTA-STS through a relay process, as operators run it: mail submitted over STARTTLS +
 * AUTH, the relay resolving through a real validating resolver (unbound in front of knot, zones
 * signed at test time) named by `RELAY_DNS_SERVERS`, the MTA-STS policy fetched over HTTPS from a
 * lab policy host and cached in the fleet's Redis, delivered to a real SMTP server. None of the
 * domains has a partner file.
 */
import { X509Certificate } from "node:crypto"
import { createServer, type Server } from "node:https"
import type { AddressInfo } from "node:net"
import { gunzipSync } from "node:zlib"
import {
  type MtaStsHost,
  type RunningSmtpServer,
  startMtaStsHost,
  startSmtpLabServer,
} from "@mailconnect/partner-lab"
import { RedisClient } from "@mailconnect/redis-client"
import { type DnssecLab, startDnssecLab } from "@mailconnect/test-dnssec"
import { createRootCa } from "@mailconnect/test-pki"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { policyOf, startStack, submit, waitFor } from "@mailconnect/test-support"
import { makeTlsReportCounters, utcDay, validateReport } from "@mailconnect/tlsrpt"
import { tlsaAssociation } from "@mailconnect/x509"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let stack: Stack
let relay: SmtpRelay
let dns: DnssecLab
let sts: MtaStsHost
let server: RunningSmtpServer
let reports: Server
const posted: Array<Buffer> = []
const STS_ID = "20261202T000000"

beforeAll(async () => {
  stack = await startStack(["good"])
  const root = await createRootCa({ commonName: "standards relay root" })
  const cert = await root.issueServer({ names: ["mx.dane.example", "mx.sts.example", "mx.wrongkey.example"] })
  const other = await root.issueServer({ names: ["mx.wrongkey.example"] })
  server = await startSmtpLabServer({
    name: "standards",
    cert: cert.chainPem,
    key: cert.keyPem,
    host: "127.0.0.1",
  })
  // A lab HTTPS endpoint taking the TLS reports the relay sends (RFC 8460 https: rua).
  const web = await root.issueServer({ names: ["localhost"] })
  reports = createServer({ cert: web.chainPem, key: web.keyPem }, (request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (c: Buffer) => chunks.push(c))
    request.on("end", () => {
      posted.push(Buffer.concat(chunks))
      response.writeHead(201).end()
    })
  })
  await new Promise<void>((r) => reports.listen(0, "127.0.0.1", r))
  const rua = `https://localhost:${(reports.address() as AddressInfo).port}/tlsrpt`
  sts = await startMtaStsHost()
  await sts.publish("sts.example", { id: STS_ID, policy: { mode: "enforce", mx: ["mx.sts.example"] } })
  const tlsa = (pem: string) => ({
    name: `_${server.port}._tcp.mx`,
    type: "TLSA" as const,
    usage: 3,
    selector: 1,
    matchingType: 1,
    data: tlsaAssociation(new X509Certificate(pem), 1, 1).toString("hex"),
  })
  const mx = (zone: string) => [
    { name: "@", type: "MX" as const, preference: 10, exchange: `mx.${zone}.` },
    { name: "mx", type: "A" as const, address: "127.0.0.1" },
  ]
  dns = await startDnssecLab({
    zones: [
      { name: "dane.example", signing: "signed", records: [...mx("dane.example"), tlsa(cert.certPem)] },
      {
        name: "wrongkey.example",
        signing: "signed",
        records: [...mx("wrongkey.example"), tlsa(other.certPem)],
      },
      {
        name: "sts.example",
        signing: "unsigned",
        records: [
          ...mx("sts.example"),
          { name: "_mta-sts", type: "TXT", text: `v=STSv1; id=${STS_ID};` },
          { name: "_smtp._tls", type: "TXT", text: `v=TLSRPTv1; rua=${rua}` },
          { name: "mta-sts", type: "A", address: "127.0.0.1" },
        ],
      },
    ],
  })
  const good = stack.partners.scenario("good")
  await stack.publish(policyOf([], { host: good.host, port: good.port }), 1)
  relay = await stack.startRelay("standards-relay", {
    RELAY_DNS_SERVERS: dns.resolver.server,
    RELAY_MX_PORT: String(server.port),
    RELAY_MTA_STS_CA: stack.lab.file("mta-sts-ca.pem", `${sts.ca}\n${root.certPem}`),
    RELAY_MTA_STS_PORT: String(sts.port),
    RELAY_TLSRPT_ORGANIZATION: "Standards Lab",
    RELAY_TLSRPT_CONTACT: "tlsrpt@relay.test",
    RELAY_TLSRPT_INTERVAL: "1",
    RELAY_TLSRPT_HTTPS_CA: stack.lab.file("tlsrpt-ca.pem", root.certPem),
    RELAY_TLSRPT_HTTPS_ALLOW_PRIVATE: "on",
  })
  await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  await relay?.stop("SIGKILL")
  await server?.stop()
  await new Promise((r) => reports?.close(r))
  await sts?.stop()
  await dns?.stop()
  await stack?.stop()
})

const received = (recipient: string) => server.recorder.messages().filter((m) => m.rcptTo.includes(recipient))

const sourceCount = async (source: string, result: string) =>
  (await relay.metrics()).get(
    `mc_outbound_policy_source_total{policy_source="${source}",result="${result}"}`,
  ) ?? 0

describe("a relay authenticates domains without a partner file", () => {
  it("delivers submitted mail to a DANE domain over TLS its TLSA record authenticates", async () => {
    await submit(relay, stack.relayCa, ["bob@dane.example"], "dane through the relay")
    const message = await waitFor("delivery to dane.example", () => received("bob@dane.example")[0], 30_000)
    expect(message.body?.toString()).toContain("Subject: dane through the relay")
    await waitFor("dane metric", async () => ((await sourceCount("dane", "ok")) >= 1 ? true : undefined))
  })

  it("keeps mail for a DANE domain whose server presents another key, sending nothing", async () => {
    const mailFromsBefore = server.recorder.mailFroms().length
    await submit(relay, stack.relayCa, ["bob@wrongkey.example"], "dane mismatch through the relay")
    await waitFor("the refusal", async () =>
      (await sourceCount("dane", "DANE_TLSA_MISMATCH")) >= 1 ? true : undefined,
    )
    expect(received("bob@wrongkey.example")).toEqual([])
    expect(server.recorder.mailFroms()).toHaveLength(mailFromsBefore)
  })

  it("delivers to an MTA-STS enforce domain after fetching its policy once for the fleet", async () => {
    await submit(relay, stack.relayCa, ["bob@sts.example"], "mta-sts through the relay")
    await waitFor("delivery to sts.example", () => received("bob@sts.example")[0], 30_000)
    await waitFor("mta-sts metric", async () =>
      (await sourceCount("mta-sts", "ok")) >= 1 ? true : undefined,
    )
    expect(sts.requests("sts.example")).toBe(1)
    const cached = await stack.lab.withRedis(
      Effect.flatMap(RedisClient, (redis) => redis.get(redis.keys.key("mta-sts:sts.example"))),
    )
    expect(cached._tag).toBe("Some")
  })
})

describe("TLS reports (RFC 8460) from a relay process", () => {
  const counters = <A>(use: (c: ReturnType<typeof makeTlsReportCounters>) => Effect.Effect<A, unknown>) =>
    stack.lab.withRedis(Effect.flatMap(RedisClient, (redis) => use(makeTlsReportCounters(redis))))

  it("counts today's sessions per domain and policy, fleet-wide in Redis", async () => {
    const today = utcDay(Date.now())
    const stsDay = { day: today, domain: "sts.example" }
    await waitFor("sessions counted", async () => {
      const domains = await counters((c) => c.domains(today))
      return ["dane.example", "sts.example", "wrongkey.example"].every((d) => domains.includes(d))
        ? true
        : undefined
    })
    expect(await counters((c) => c.results(stsDay))).toMatchObject([
      {
        policy: {
          "policy-type": "sts",
          "policy-string": ["version: STSv1", "mode: enforce", "mx: mx.sts.example"],
        },
        summary: { "total-successful-session-count": 1, "total-failure-session-count": 0 },
      },
    ])
    expect(await counters((c) => c.results({ day: today, domain: "wrongkey.example" }))).toMatchObject([
      {
        policy: { "policy-type": "tlsa", "mx-host": "mx.wrongkey.example" },
        "failure-details": [
          { "result-type": "validation-failure", "failure-reason-code": "DANE_TLSA_MISMATCH" },
        ],
      },
    ])
  })

  it("sends yesterday's report to the domain's https rua once, valid by the RFC 8460 schema", async () => {
    const yesterday = Date.now() - 86_400_000
    await counters((c) =>
      c.record([
        {
          id: `standards-${yesterday}`,
          domain: "sts.example",
          at: yesterday,
          policy: {
            "policy-type": "sts",
            "policy-string": ["version: STSv1", "mode: enforce"],
            "policy-domain": "sts.example",
          },
          failure: { "result-type": "certificate-expired", "receiving-mx-hostname": "mx.sts.example" },
        },
      ]),
    )
    const body = await waitFor("the report POST", () => posted[0], 30_000)
    const report = Either.getOrThrow(validateReport(JSON.parse(gunzipSync(body).toString())))
    expect(report).toMatchObject({
      "organization-name": "Standards Lab",
      "date-range": { "start-datetime": `${utcDay(yesterday)}T00:00:00Z` },
      policies: [
        {
          summary: { "total-successful-session-count": 0, "total-failure-session-count": 1 },
          "failure-details": [{ "result-type": "certificate-expired", "failed-session-count": 1 }],
        },
      ],
    })
    // Rounds go on every second; the day's report is done and not sent again.
    await new Promise((r) => setTimeout(r, 2_500))
    expect(posted).toHaveLength(1)
    expect(await counters((c) => c.outcome({ day: utcDay(yesterday), domain: "sts.example" }))).toContain(
      report["report-id"],
    )
  })
})
