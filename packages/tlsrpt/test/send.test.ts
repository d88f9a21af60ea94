/**
 * The report round against real parts: a real Redis holding the counts, a lab DNS server
 * publishing `_smtp._tls`, a real HTTPS endpoint (test PKI). The mail port records what it is
 * given (the queue path is test/delivery/tlsrpt-e2e.test.ts). What a round does when DNS, the
 * endpoint or the address of an `https:` rua is wrong: the claim is released and the next round
 * sends; a private address is never POSTed to.
 */
import { Resolver } from "node:dns/promises"
import { createServer, type Server } from "node:https"
import type { AddressInfo } from "node:net"
import { gunzipSync } from "node:zlib"
import { type LabDns, startLabDns } from "@mailconnect/partner-lab"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, Layer, TestClock, TestContext } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { isPublicAddress } from "../src/address"
import { TlsReportCounters } from "../src/counters"
import { TlsRptDnsFailed } from "../src/errors"
import { ReportMailer, TlsRptDns } from "../src/ports"
import { validateReport } from "../src/schema"
import { ReportSender, type SenderConfig } from "../src/send"
import { countersLayer } from "./lab"

let redis: RedisServer
let dns: LabDns
let https: Server
let status = 500
let ca = ""
let port = 0
const posts: Array<Buffer> = []

beforeAll(async () => {
  ;[redis, dns] = await Promise.all([startRedis(), startLabDns()])
  const root = await createRootCa({ commonName: "tlsrpt send root" })
  ca = root.certPem
  const cert = await root.issueServer({ names: ["localhost"] })
  https = createServer({ cert: cert.chainPem, key: cert.keyPem }, (request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (c: Buffer) => chunks.push(c))
    request.on("end", () => {
      if (status < 300) posts.push(Buffer.concat(chunks))
      response.writeHead(status).end()
    })
  })
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r))
  port = (https.address() as AddressInfo).port
})
afterAll(async () => {
  await new Promise((r) => https?.close(r))
  await dns?.stop()
  await redis?.stop()
})

const DAY = "2026-11-30"
const NEXT_DAY = Date.parse("2026-12-01T00:10:00Z")

const resolverOn = (server: string) =>
  Layer.sync(TlsRptDns, () => {
    const resolver = new Resolver({ timeout: 300, tries: 1 })
    resolver.setServers([server])
    return {
      txt: (name: string) =>
        Effect.tryPromise({
          try: () =>
            resolver.resolveTxt(name).catch((e: NodeJS.ErrnoException) => {
              if (e.code === "ENOTFOUND" || e.code === "ENODATA") return []
              throw e
            }),
          catch: (e) => new TlsRptDnsFailed({ name, detail: String(e) }),
        }),
    }
  })

const mails: Array<{ readonly to: string; readonly body: Buffer }> = []
const recordingMailer = Layer.succeed(ReportMailer, {
  send: (to: string, body: Buffer) =>
    Effect.sync(() => {
      mails.push({ to, body })
      return `q${mails.length}`
    }),
})

const config = (extra: Partial<SenderConfig> = {}): SenderConfig => ({
  submitter: { organization: "Lab", contact: "tlsrpt@relay.test", domain: "relay.test" },
  from: "tlsrpt@relay.test",
  holder: "relay-a",
  httpsCa: ca,
  httpsTimeoutMs: 5_000,
  ...extra,
})

/** A fresh prefix with one successful session for `domain` on DAY; rounds at NEXT_DAY. */
const scenario = async (domain: string, dnsServer = dns.server, extra: Partial<SenderConfig> = {}) => {
  const counters = countersLayer(redis.url)
  const layer = Layer.provideMerge(
    ReportSender.layer(config(extra)).pipe(
      Layer.provide(Layer.merge(resolverOn(dnsServer), recordingMailer)),
    ),
    counters,
  )
  const round = Effect.flatMap(ReportSender, (s) => s.round)
  const run = <A, E>(effect: Effect.Effect<A, E, ReportSender | TlsReportCounters>) =>
    Effect.runPromise(
      TestClock.setTime(NEXT_DAY).pipe(
        Effect.zipRight(effect),
        Effect.provide(layer),
        Effect.provide(TestContext.TestContext),
      ),
    )
  await run(
    Effect.flatMap(TlsReportCounters, (c) =>
      c.record([
        {
          id: `${domain}-1`,
          domain,
          at: Date.parse(`${DAY}T12:00:00Z`),
          policy: { "policy-type": "no-policy-found", "policy-domain": domain },
          failure: undefined,
        },
      ]),
    ),
  )
  return { round: () => run(round), run }
}

describe("the report round", () => {
  it("releases the claim when the endpoint refuses, and sends in the next round", async () => {
    const domain = "retry.example"
    dns.set(`_smtp._tls.${domain}`, [{ type: "TXT", data: `v=TLSRPTv1; rua=https://localhost:${port}/r` }])
    const { round } = await scenario(domain, dns.server, { httpsAllowPrivate: true })
    status = 500
    const first = await round()
    expect(first).toMatchObject([{ day: DAY, domain, result: { _tag: "Retry" } }])
    expect((first[0]!.result as { reason: string }).reason).toContain("500")
    status = 202
    const before = posts.length
    const second = await round()
    expect(second).toMatchObject([
      { domain, result: { _tag: "Sent", delivered: [`https://localhost:${port}/r`] } },
    ])
    expect(posts).toHaveLength(before + 1)
    const report = Either.getOrThrow(validateReport(JSON.parse(gunzipSync(posts.at(-1)!).toString())))
    expect(report.policies).toEqual([
      {
        policy: { "policy-type": "no-policy-found", "policy-domain": domain },
        summary: { "total-successful-session-count": 1, "total-failure-session-count": 0 },
      },
    ])
    // Done is done: a third round sends nothing.
    expect(await round()).toEqual([])
  })

  it("never POSTs to a loopback or private address unless a lab allows it; the mailto still goes", async () => {
    const domain = "private.example"
    dns.set(`_smtp._tls.${domain}`, [
      { type: "TXT", data: `v=TLSRPTv1; rua=https://localhost:${port}/r,mailto:rpt@private.example` },
    ])
    const { round } = await scenario(domain)
    const before = posts.length
    status = 202
    const [entry] = await round()
    expect(entry?.result).toMatchObject({
      _tag: "Sent",
      delivered: ["mailto:rpt@private.example"],
      failed: [{ _tag: "TlsReportNotDelivered", form: "https-refused-address" }],
    })
    expect(posts).toHaveLength(before)
    expect(mails.at(-1)?.to).toBe("rpt@private.example")
  })

  it("retries when DNS does not answer; a domain without a record is done without a report", async () => {
    const silent = await scenario("silent.example", "127.0.0.1:9")
    expect(await silent.round()).toMatchObject([{ domain: "silent.example", result: { _tag: "Retry" } }])
    const unpublished = await scenario("unpublished.example")
    expect(await unpublished.round()).toMatchObject([{ result: { _tag: "NoRecord", reason: "none" } }])
    expect(await unpublished.round()).toEqual([])
  })
})

describe("addresses a report may be POSTed to", () => {
  it.each([
    ["192.0.2.10", false],
    ["127.0.0.1", false],
    ["10.1.2.3", false],
    ["172.16.0.1", false],
    ["172.32.0.1", true],
    ["169.254.169.254", false],
    ["100.64.0.1", false],
    ["192.168.1.1", false],
    ["224.0.0.1", false],
    ["8.8.8.8", true],
    ["::1", false],
    ["::", false],
    ["fd00::1", false],
    ["fe80::1", false],
    ["ff02::1", false],
    ["::ffff:127.0.0.1", false],
    ["::ffff:8.8.4.4", true],
    ["2001:db8::1", false],
    ["2606:4700::1111", true],
    ["198.51.100.7", false],
    ["203.0.113.9", false],
  ])("%s public: %s", (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected)
  })
})
