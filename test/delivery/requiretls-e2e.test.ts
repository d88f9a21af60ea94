/**
 * REQUIRETLS (RFC 8689) end to end: the queue and the real outbound adapter as the relay binds
 * them, a real validating resolver over zones signed at test time, real SMTP lab servers — one
 * advertising REQUIRETLS inside TLS, one not. A REQUIRETLS message goes only to an authenticated
 * hop whose server advertises it, with REQUIRETLS on MAIL FROM; otherwise it bounces 5.7.30 and
 * the server received no MAIL FROM. `TLS-Required: No` delivers despite a failing DANE check.
 */
import { X509Certificate } from "node:crypto"
import { type RunningSmtpServer, startSmtpLabServer } from "@mailconnect/partner-lab"
import { type DnssecLab, type LabZone, startDnssecLab } from "@mailconnect/test-dnssec"
import { createRootCa, type IssuedCertificate } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { tlsaAssociation } from "@mailconnect/x509"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { firstAttempt, partner, policySet, uniquePrefix } from "./harness"

let redis: RedisServer
let dns: DnssecLab
let advertising: RunningSmtpServer
let silent: RunningSmtpServer
let rootPem: string
let leaf: IssuedCertificate

const ZONES = ["rt-dane", "rt-plain", "rt-silent", "rt-mismatch", "rt-unusable"] as const
const hex = (bytes: Buffer) => bytes.toString("hex")

const zone = (
  name: string,
  port: number,
  signing: LabZone["signing"],
  tlsa: ReadonlyArray<{ usage: number; selector: number; matchingType: number; data: string }>,
): LabZone => ({
  name,
  signing,
  records: [
    { name: "@", type: "MX", preference: 10, exchange: `mx.${name}.` },
    { name: "mx", type: "A", address: "127.0.0.1" },
    ...tlsa.map((r) => ({ name: `_${port}._tcp.mx`, type: "TLSA" as const, ...r })),
  ],
})

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "requiretls e2e root" })
  rootPem = root.certPem
  leaf = await root.issueServer({ names: [...ZONES.map((z) => `mx.${z}.example`), "mx.rt-partner.example"] })
  const other = await root.issueServer({ names: ["mx.rt-mismatch.example"] })
  // Not "requiretls-…": nodemailer finds the keyword anywhere in the EHLO reply, greeting line included.
  const server = (name: string, requireTls: boolean) =>
    startSmtpLabServer({ name, cert: leaf.chainPem, key: leaf.keyPem, host: "127.0.0.1", requireTls })
  advertising = await server("lab-advertising", true)
  silent = await server("lab-silent", false)
  const ee = {
    usage: 3,
    selector: 1,
    matchingType: 1,
    data: hex(tlsaAssociation(new X509Certificate(leaf.certPem), 1, 1)),
  }
  const wrong = { ...ee, data: hex(tlsaAssociation(new X509Certificate(other.certPem), 1, 1)) }
  dns = await startDnssecLab({
    zones: [
      zone("rt-dane.example", advertising.port, "signed", [ee]),
      zone("rt-plain.example", advertising.port, "unsigned", []),
      zone("rt-silent.example", silent.port, "signed", [ee]),
      zone("rt-mismatch.example", advertising.port, "signed", [wrong]),
      // PKIX-EE (usage 1): validated, but unusable for SMTP — it authenticates nothing.
      zone("rt-unusable.example", advertising.port, "signed", [{ ...ee, usage: 1 }]),
    ],
  })
})
afterAll(async () => {
  await advertising?.stop()
  await silent?.stop()
  await dns?.stop()
  await redis?.stop()
})

const requireTls = { requireTls: true }

const attempt = (
  recipient: string,
  server: RunningSmtpServer,
  demand: { requireTls?: boolean; tlsRequiredNo?: boolean },
) =>
  firstAttempt(
    {
      redisUrl: redis.url,
      prefix: uniquePrefix("requiretls"),
      policy: policySet([]),
      mxPort: server.port,
      standards: { dane: [dns.resolver.server], mtaSts: undefined },
    },
    recipient,
    demand,
  )

const transactionsTo = (server: RunningSmtpServer, recipient: string) =>
  server.recorder.connections.flatMap((c) => c.transactions).filter((t) => t.rcptTo.includes(recipient))

const noMailFromFor = (recipient: string) => {
  for (const server of [advertising, silent])
    expect(server.recorder.mailFroms().filter((m) => m.includes(recipient.split("@")[1]!))).toEqual([])
}

describe("REQUIRETLS", () => {
  it("delivers to a DANE host that advertises REQUIRETLS, with REQUIRETLS on MAIL FROM, and says so in the job", async () => {
    const job = await attempt("bob@rt-dane.example", advertising, requireTls)
    expect(job.data.results).toMatchObject([{ recipient: "bob@rt-dane.example", outcome: "delivered" }])
    expect(job.data.requireTls).toBe(true)
    expect(job.log.at(-1)).toContain("| source dane | requiretls |")
    const [transaction] = transactionsTo(advertising, "bob@rt-dane.example")
    expect(transaction).toMatchObject({ requireTLS: true })
    expect(transaction?.body).toBeDefined()
  })

  it("bounces 5.7.30 for a domain only opportunistic TLS reaches, contacting no server", async () => {
    const job = await attempt("bob@rt-plain.example", advertising, requireTls)
    expect(job.data.results).toMatchObject([
      { recipient: "bob@rt-plain.example", outcome: "failed", status: "5.7.30", code: "REQUIRETLS_UNMET" },
    ])
    expect(job.data.lastFailure).toMatchObject({
      code: "REQUIRETLS_UNMET",
      reason: { _tag: "RequireTls", form: "no-authenticated-hop" },
    })
    expect(job.log.at(-1)).toContain("| requiretls |")
    noMailFromFor("bob@rt-plain.example")
  })

  it("bounces 5.7.30 for DANE with only unusable TLSA records (they authenticate nothing)", async () => {
    const job = await attempt("bob@rt-unusable.example", advertising, requireTls)
    expect(job.data.lastFailure).toMatchObject({
      code: "REQUIRETLS_UNMET",
      reason: { _tag: "RequireTls", form: "no-authenticated-hop" },
    })
    noMailFromFor("bob@rt-unusable.example")
  })

  it("bounces 5.7.30 (not-offered) when the authenticated DANE server does not advertise REQUIRETLS: no MAIL FROM", async () => {
    const job = await attempt("bob@rt-silent.example", silent, requireTls)
    expect(job.data.results).toMatchObject([
      { outcome: "failed", status: "5.7.30", code: "REQUIRETLS_UNMET" },
    ])
    expect(job.data.lastFailure).toMatchObject({
      code: "REQUIRETLS_UNMET",
      reason: { _tag: "RequireTls", form: "not-offered" },
      source: "dane",
    })
    expect(job.data.attempts.at(-1)).toMatchObject({ tls: { verification: { ok: true } } })
    noMailFromFor("bob@rt-silent.example")
  })

  it("bounces 5.7.30 (not-offered) when an enforced partner's server does not advertise REQUIRETLS", async () => {
    const policy = policySet([
      partner("rt-partner", ["rt-partner.example"], {
        servers: [{ host: "127.0.0.1", port: silent.port }],
        tls: {
          mode: "enforce",
          minVersion: "TLSv1.2",
          verify: {
            trust: "pkix",
            names: ["mx.rt-partner.example"],
            pins: [],
            ca: { file: "ca.pem", pem: rootPem, sha256: "-", notAfter: "2099-01-01T00:00:00Z" },
          },
        },
      }),
    ])
    const job = await firstAttempt(
      { redisUrl: redis.url, prefix: uniquePrefix("requiretls"), policy },
      "bob@rt-partner.example",
      requireTls,
    )
    expect(job.data.lastFailure).toMatchObject({
      code: "REQUIRETLS_UNMET",
      status: "5.7.30",
      reason: { _tag: "RequireTls", form: "not-offered" },
      source: "partner",
    })
    noMailFromFor("bob@rt-partner.example")
  })
})

describe("TLS-Required: No", () => {
  it("delivers to a DANE domain whose certificate fails its TLSA records, the failed check recorded", async () => {
    const job = await attempt("bob@rt-mismatch.example", advertising, { tlsRequiredNo: true })
    expect(job.data.results).toMatchObject([{ recipient: "bob@rt-mismatch.example", outcome: "delivered" }])
    expect(job.data.tlsRequiredNo).toBe(true)
    expect(job.data.attempts.at(-1)).toMatchObject({ source: "dane", tls: { verification: { ok: false } } })
    expect(job.log.at(-1)).toContain("| tls-required-no |")
    expect(transactionsTo(advertising, "bob@rt-mismatch.example")).toMatchObject([{ requireTLS: false }])
  })

  it("without it, the same domain defers and receives nothing", async () => {
    const job = await attempt("carol@rt-mismatch.example", advertising, {})
    expect(job.data.lastFailure).toMatchObject({ code: "DANE_TLSA_MISMATCH" })
    expect(transactionsTo(advertising, "carol@rt-mismatch.example")).toEqual([])
  })
})
