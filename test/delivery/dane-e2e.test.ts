/**
 * DANE (RFC 7672) end to end: the queue and the real outbound adapter, bound as the relay binds
 * them, resolving through a real validating resolver (unbound) in front of a real authoritative
 * server (knot) with zones signed at test time, delivering to real SMTP servers with
 * certificates from the test PKI. Each domain has no partner policy: only DANE authenticates it.
 * For every refusal, the server received no MAIL FROM.
 */
import { X509Certificate } from "node:crypto"
import { type RunningSmtpServer, startSmtpLabServer } from "@mailconnect/partner-lab"
import { type DnssecLab, type LabRecord, type LabZone, startDnssecLab } from "@mailconnect/test-dnssec"
import { createRootCa, type IssuedCertificate } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { tlsaAssociation } from "@mailconnect/x509"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { firstAttempt, policySet, uniquePrefix } from "./harness"

let redis: RedisServer
let dns: DnssecLab
let good: RunningSmtpServer
let stripped: RunningSmtpServer
let leaf: IssuedCertificate
let intermediatePem: string
let otherKey: IssuedCertificate

const ZONES = ["ee", "ta", "mismatch", "bogus", "insecure", "stripped", "ta-wrong-name", "unusable"] as const
const hex = (bytes: Buffer) => bytes.toString("hex")

/** A zone whose MX host listens on `port` at 127.0.0.1, with these TLSA records. */
const zone = (
  name: string,
  port: number,
  signing: LabZone["signing"],
  tlsa: ReadonlyArray<{ usage: number; selector: number; matchingType: number; data: string }>,
  mxHost = "mx",
): LabZone => ({
  name,
  signing,
  records: [
    { name: "@", type: "MX", preference: 10, exchange: `${mxHost}.${name}.` },
    { name: mxHost, type: "A", address: "127.0.0.1" },
    ...tlsa.map((r): LabRecord => ({ name: `_${port}._tcp.${mxHost}`, type: "TLSA", ...r })),
  ],
})

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "dane e2e root" })
  const intermediate = await root.issueIntermediate("dane e2e intermediate")
  intermediatePem = intermediate.certPem
  leaf = await intermediate.issueServer({
    names: ZONES.filter((z) => z !== "ta-wrong-name").map((z) => `mx.${z}.example`),
  })
  otherKey = await root.issueServer({ names: ["mx.mismatch.example"] })
  good = await startSmtpLabServer({
    name: "dane-good",
    cert: leaf.chainPem,
    key: leaf.keyPem,
    host: "127.0.0.1",
  })
  stripped = await startSmtpLabServer({
    name: "dane-stripped",
    cert: leaf.chainPem,
    key: leaf.keyPem,
    host: "127.0.0.1",
    hideStartTls: true,
  })
  const leafCert = new X509Certificate(leaf.certPem)
  const ee = { usage: 3, selector: 1, matchingType: 1, data: hex(tlsaAssociation(leafCert, 1, 1)) }
  const ta = {
    usage: 2,
    selector: 1,
    matchingType: 1,
    data: hex(tlsaAssociation(new X509Certificate(intermediatePem), 1, 1)),
  }
  const wrong = {
    usage: 3,
    selector: 1,
    matchingType: 1,
    data: hex(tlsaAssociation(new X509Certificate(otherKey.certPem), 1, 1)),
  }
  dns = await startDnssecLab({
    zones: [
      zone("ee.example", good.port, "signed", [ee]),
      zone("ta.example", good.port, "signed", [ta]),
      zone("ta-wrong-name.example", good.port, "signed", [ta]),
      zone("mismatch.example", good.port, "signed", [wrong]),
      zone("bogus.example", good.port, "bogus", [ee]),
      zone("insecure.example", good.port, "unsigned", [wrong]),
      zone("stripped.example", stripped.port, "signed", [ee]),
      // PKIX-EE (usage 1) matching the right key: unusable for SMTP (RFC 7672 §3.1.3).
      zone("unusable.example", good.port, "signed", [{ ...ee, usage: 1 }]),
    ],
  })
})
afterAll(async () => {
  await good?.stop()
  await stripped?.stop()
  await dns?.stop()
  await redis?.stop()
})

/** One message to `recipient` through the relay's DANE binding, to `server`'s port. */
const attempt = (recipient: string, server: RunningSmtpServer) =>
  firstAttempt(
    {
      redisUrl: redis.url,
      prefix: uniquePrefix("dane"),
      policy: policySet([]),
      mxPort: server.port,
      standards: { dane: [dns.resolver.server], mtaSts: undefined },
    },
    recipient,
  )

const received = (server: RunningSmtpServer, recipient: string) =>
  server.recorder.messages().filter((m) => m.rcptTo.includes(recipient))

describe("DANE for domains without a partner policy", () => {
  it("delivers to a DANE-EE host whose key matches its validated TLSA record", async () => {
    const job = await attempt("bob@ee.example", good)
    expect(job.data.results).toMatchObject([{ recipient: "bob@ee.example", outcome: "delivered" }])
    expect(job.data.attempts.at(-1)).toMatchObject({ source: "dane", tls: { verification: { ok: true } } })
    expect(job.log.at(-1)).toContain("| source dane |")
    expect(received(good, "bob@ee.example")).toHaveLength(1)
  })

  it("delivers to a DANE-TA host whose chain reaches the matching intermediate and names the MX host", async () => {
    const job = await attempt("bob@ta.example", good)
    expect(job.data.results).toMatchObject([{ recipient: "bob@ta.example", outcome: "delivered" }])
    expect(job.data.attempts.at(-1)).toMatchObject({
      source: "dane",
      tls: { verification: { ok: true, matchedName: "mx.ta.example" } },
    })
  })

  it("refuses a DANE-TA host whose certificate does not carry its name", async () => {
    const job = await attempt("bob@ta-wrong-name.example", good)
    expect(job.data.lastFailure).toMatchObject({
      code: "DANE_TLSA_MISMATCH",
      reason: { _tag: "Dane", problem: "TA_NAME" },
    })
    expect(job.data.pending).toEqual(["bob@ta-wrong-name.example"])
    expect(received(good, "bob@ta-wrong-name.example")).toEqual([])
  })

  it("defers, sending nothing, when the key matches no TLSA record (a man-in-the-middle, or an unannounced key change)", async () => {
    const job = await attempt("bob@mismatch.example", good)
    expect(job.data.lastFailure).toMatchObject({
      code: "DANE_TLSA_MISMATCH",
      status: "4.7.5",
      reason: { _tag: "Dane", problem: "NO_MATCH" },
    })
    expect(job.data.attempts.at(-1)?.source).toBe("dane")
    expect(job.data.nextAttemptAt).toBeDefined()
    expect(received(good, "bob@mismatch.example")).toEqual([])
  })

  it("defers on a bogus DNSSEC answer instead of falling back to opportunistic TLS", async () => {
    const job = await attempt("bob@bogus.example", good)
    expect(job.data.lastFailure).toMatchObject({
      code: "DNSSEC_BOGUS",
      reason: { _tag: "DnssecBogus", type: "MX" },
    })
    expect(job.data.pending).toEqual(["bob@bogus.example"])
    expect(received(good, "bob@bogus.example")).toEqual([])
  })

  it("ignores TLSA records in an insecure zone: opportunistic delivery, recorded as no policy", async () => {
    const job = await attempt("bob@insecure.example", good)
    expect(job.data.results).toMatchObject([{ recipient: "bob@insecure.example", outcome: "delivered" }])
    expect(job.data.attempts.at(-1)?.source).toBe("none")
    expect(received(good, "bob@insecure.example")).toHaveLength(1)
  })

  it("with only unusable TLSA records: TLS still mandatory, nothing authenticated (RFC 7672 §2.2)", async () => {
    const job = await attempt("bob@unusable.example", good)
    expect(job.data.results).toMatchObject([{ recipient: "bob@unusable.example", outcome: "delivered" }])
    const last = job.data.attempts.at(-1)
    expect(last?.source).toBe("dane")
    expect(last?.tls).toMatchObject({ protocol: "TLSv1.3", verification: { ok: true, findings: [] } })
  })

  it("defers, sending nothing, when STARTTLS is stripped from a DANE host", async () => {
    const job = await attempt("bob@stripped.example", stripped)
    expect(job.data.lastFailure?.code).toBe("STARTTLS_NOT_OFFERED")
    expect(job.data.attempts.at(-1)?.source).toBe("dane")
    expect(stripped.recorder.mailFroms()).toEqual([])
  })
})
