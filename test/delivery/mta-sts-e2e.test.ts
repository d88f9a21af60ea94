/**
 * MTA-STS (RFC 8461) end to end: the queue and the real outbound adapter with the relay's
 * binding, discovering `_mta-sts` TXT on a lab DNS server, fetching the policy over HTTPS from a
 * lab policy host (test CA via RELAY_MTA_STS_CA), caching it in a real Redis, and delivering to
 * real SMTP servers. The domains have no partner file unless a test says so; for every refusal,
 * the server received no MAIL FROM.
 */
import {
  type MtaStsHost,
  type RunningSmtpServer,
  startMtaStsHost,
  startSmtpLabServer,
} from "@mailconnect/partner-lab"
import type { PolicySet } from "@mailconnect/policy"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { firstAttempt, partner, policySet, uniquePrefix } from "./harness"

const DOMAINS = [
  "testing-wrong-name",
  "enforce",
  "not-listed",
  "wrong-name",
  "testing",
  "none",
  "stripped",
  "opted-out",
  "partner",
] as const
const domainOf = (label: (typeof DOMAINS)[number]) => `${label}.sts.example`

let redis: RedisServer
let host: MtaStsHost
let good: RunningSmtpServer
let stripped: RunningSmtpServer

beforeAll(async () => {
  redis = await startRedis()
  host = await startMtaStsHost()
  // The MX certificates come from the same test CA as the policy host's (RELAY_MTA_STS_CA).
  const root = await createRootCa({ commonName: "mta-sts mx root" })
  const names = DOMAINS.filter((d) => d !== "wrong-name" && d !== "testing-wrong-name").map(
    (d) => `mx.${domainOf(d)}`,
  )
  const cert = await root.issueServer({ names })
  good = await startSmtpLabServer({
    name: "sts-good",
    cert: cert.chainPem,
    key: cert.keyPem,
    host: "127.0.0.1",
  })
  stripped = await startSmtpLabServer({
    name: "sts-stripped",
    cert: cert.chainPem,
    key: cert.keyPem,
    host: "127.0.0.1",
    hideStartTls: true,
  })
  roots = `${host.ca}\n${root.certPem}`
  for (const label of DOMAINS) {
    const domain = domainOf(label)
    host.dns.set(domain, [{ type: "MX", preference: 10, exchange: `mx.${domain}` }])
    host.dns.set(`mx.${domain}`, [{ type: "A", address: "127.0.0.1" }])
    if (label === "none") continue
    await host.publish(domain, {
      policy: {
        mode: label.startsWith("testing") ? "testing" : "enforce",
        mx: [label === "not-listed" ? `mx.elsewhere.example` : `mx.${domain}`],
      },
    })
  }
})
let roots = ""
afterAll(async () => {
  await good?.stop()
  await stripped?.stop()
  await host?.stop()
  await redis?.stop()
})

const attempt = (recipient: string, server: RunningSmtpServer, policy: PolicySet = policySet([])) =>
  firstAttempt(
    {
      redisUrl: redis.url,
      prefix: uniquePrefix("sts"),
      policy,
      mxPort: server.port,
      standards: { dane: undefined, mtaSts: { dnsServers: [host.dns.server], ca: roots, port: host.port } },
    },
    recipient,
  )

const received = (server: RunningSmtpServer, recipient: string) =>
  server.recorder.messages().filter((m) => m.rcptTo.includes(recipient))

describe("MTA-STS for domains without a partner policy", () => {
  it("enforce: delivers to a listed MX whose certificate carries its name, as source mta-sts", async () => {
    const job = await attempt(`bob@${domainOf("enforce")}`, good)
    expect(job.data.results).toMatchObject([{ outcome: "delivered" }])
    expect(job.data.attempts.at(-1)).toMatchObject({
      source: "mta-sts",
      tls: { verification: { ok: true, matchedName: `mx.${domainOf("enforce")}` } },
    })
    expect(job.log.at(-1)).toContain("| source mta-sts |")
    expect(host.requests(domainOf("enforce"))).toBe(1)
  })

  it("enforce: an MX outside the policy is never contacted", async () => {
    const recipient = `bob@${domainOf("not-listed")}`
    const job = await attempt(recipient, good)
    expect(job.data.lastFailure).toMatchObject({
      code: "MTA_STS_MX_MISMATCH",
      reason: {
        _tag: "MtaStsMx",
        patterns: ["mx.elsewhere.example"],
        hosts: [`mx.${domainOf("not-listed")}`],
      },
    })
    expect(job.data.pending).toEqual([recipient])
    expect(received(good, recipient)).toEqual([])
  })

  it("enforce: a certificate without the MX name is refused (nothing sent)", async () => {
    const recipient = `bob@${domainOf("wrong-name")}`
    const job = await attempt(recipient, good)
    expect(job.data.lastFailure?.code).toBe("CERT_NAME_MISMATCH")
    expect(job.data.attempts.at(-1)?.source).toBe("mta-sts")
    expect(received(good, recipient)).toEqual([])
  })

  it("enforce: STARTTLS stripped defers, nothing sent", async () => {
    const recipient = `bob@${domainOf("stripped")}`
    const job = await attempt(recipient, stripped)
    expect(job.data.lastFailure?.code).toBe("STARTTLS_NOT_OFFERED")
    expect(job.data.attempts.at(-1)?.source).toBe("mta-sts")
    expect(stripped.recorder.mailFroms()).toEqual([])
  })

  it("testing: delivers, and records the verification against the MX name for reporting", async () => {
    const recipient = `bob@${domainOf("testing")}`
    const job = await attempt(recipient, good)
    expect(job.data.results).toMatchObject([{ recipient, outcome: "delivered" }])
    expect(job.data.attempts.at(-1)).toMatchObject({
      source: "mta-sts",
      tls: { verification: { ok: true, matchedName: `mx.${domainOf("testing")}` } },
    })
  })

  it("testing: a certificate without the MX name still delivers, and the failure is in the evidence", async () => {
    const recipient = `bob@${domainOf("testing-wrong-name")}`
    const job = await attempt(recipient, good)
    expect(job.data.results).toMatchObject([{ recipient, outcome: "delivered" }])
    expect(job.data.attempts.at(-1)).toMatchObject({
      source: "mta-sts",
      tls: { verification: { ok: false, failure: "CERT_NAME_MISMATCH", findings: ["CERT_NAME_MISMATCH"] } },
    })
  })

  it("no policy published: opportunistic, source none", async () => {
    const recipient = `bob@${domainOf("none")}`
    const job = await attempt(recipient, good)
    expect(job.data.results).toMatchObject([{ recipient, outcome: "delivered" }])
    expect(job.data.attempts.at(-1)?.source).toBe("none")
  })
})

describe("precedence", () => {
  it("an opportunistic partner with tls.mtaSts off ignores the domain's policy (its MX is not listed)", async () => {
    const domain = domainOf("opted-out")
    await host.publish(domain, { policy: { mode: "enforce", mx: ["mx.elsewhere.example"] } })
    const policy = policySet([
      partner("opted", [domain], {
        tls: {
          mode: "opportunistic",
          minVersion: "TLSv1.2",
          verify: { trust: "pkix", names: [], pins: [] },
          mtaSts: "off",
        },
      }),
    ])
    const job = await attempt(`bob@${domain}`, good, policy)
    expect(job.data.results).toMatchObject([{ outcome: "delivered" }])
    expect(job.data.attempts.at(-1)?.source).toBe("partner")
    expect(host.requests(domain)).toBe(0)
  })

  it("an enforcing partner's own policy wins: MTA-STS is not even fetched", async () => {
    const domain = domainOf("partner")
    const policy = policySet([
      partner("enforcer", [domain], {
        tls: {
          mode: "enforce",
          minVersion: "TLSv1.2",
          verify: {
            trust: "pkix",
            names: [`mx.${domain}`],
            pins: [],
            ca: { file: "ca.pem", pem: roots, sha256: "-", notAfter: "2099-01-01T00:00:00Z" },
          },
        },
      }),
    ])
    const job = await attempt(`bob@${domain}`, good, policy)
    expect(job.data.results).toMatchObject([{ outcome: "delivered" }])
    expect(job.data.attempts.at(-1)?.source).toBe("partner")
    expect(host.requests(domain)).toBe(0)
  })
})
