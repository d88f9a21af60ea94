/**
 * `mailconnect probe` and the DNS-based standards, as an operator runs it: a real validating
 * resolver (unbound) in front of signed and unsigned zones (knot), a real SMTP server with a
 * certificate from the test PKI, an HTTPS MTA-STS policy host and the fleet's Redis. The probe
 * shows who authenticates each hop and why: DANE with the TLSA records and what matched (or the
 * problem), MTA-STS with the policy and where it came from (fetched, the fleet cache, or without
 * Redis).
 */
import { randomBytes, X509Certificate } from "node:crypto"
import { writeFileSync } from "node:fs"
import { createServer, type Server } from "node:https"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { type RunningSmtpServer, startSmtpLabServer } from "@mailconnect/partner-lab"
import { type DnssecLab, type LabRecord, startDnssecLab } from "@mailconnect/test-dnssec"
import { createRootCa } from "@mailconnect/test-pki"
import { freePort, type RedisServer, startRedis } from "@mailconnect/test-redis"
import { tlsaAssociation } from "@mailconnect/x509"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mailconnect, tempDir } from "./policy-cli"

let dns: DnssecLab
let smtp: RunningSmtpServer
let policyHost: Server
let redis: RedisServer
let env: Record<string, string>
let eeRecord: string

const STS_ID = "20261201T000000"
const hex = (bytes: Buffer) => bytes.toString("hex")

/** An MX host `mx` (or `host`) at 127.0.0.1 for `zone`, with these extra records. */
const mxRecords = (zone: string, host = "mx", extra: ReadonlyArray<LabRecord> = []): Array<LabRecord> => [
  { name: "@", type: "MX", preference: 10, exchange: `${host}.${zone}.` },
  { name: host, type: "A", address: "127.0.0.1" },
  ...extra,
]

beforeAll(async () => {
  const root = await createRootCa({ commonName: "probe standards root" })
  const leaf = await root.issueServer({
    names: ["mx.dane.example", "mx.mismatch.example", "mx1.sts.example"],
  })
  const other = await root.issueServer({ names: ["mx.mismatch.example"] })
  const policyCert = await root.issueServer({ names: ["mta-sts.sts.example"] })
  smtp = await startSmtpLabServer({
    name: "probe-standards",
    cert: leaf.chainPem,
    key: leaf.keyPem,
    host: "127.0.0.1",
  })
  const association = (pem: string) => hex(tlsaAssociation(new X509Certificate(pem), 1, 1))
  eeRecord = association(leaf.certPem)
  const tlsa = (data: string): LabRecord => ({
    name: `_${smtp.port}._tcp.mx`,
    type: "TLSA",
    usage: 3,
    selector: 1,
    matchingType: 1,
    data,
  })
  policyHost = createServer({ cert: policyCert.chainPem, key: policyCert.keyPem }, (request, response) => {
    if (request.url !== "/.well-known/mta-sts.txt") return void response.writeHead(404).end()
    response
      .writeHead(200, { "content-type": "text/plain" })
      .end(["version: STSv1", "mode: enforce", "mx: mx1.sts.example", "max_age: 86400", ""].join("\r\n"))
  })
  await new Promise<void>((resolve) => policyHost.listen(0, "127.0.0.1", resolve))
  ;[dns, redis] = await Promise.all([
    startDnssecLab({
      zones: [
        {
          name: "dane.example",
          signing: "signed",
          records: mxRecords("dane.example", "mx", [tlsa(eeRecord)]),
        },
        {
          name: "mismatch.example",
          signing: "signed",
          records: mxRecords("mismatch.example", "mx", [tlsa(association(other.certPem))]),
        },
        {
          name: "sts.example",
          signing: "unsigned",
          records: mxRecords("sts.example", "mx1", [
            { name: "_mta-sts", type: "TXT", text: `v=STSv1; id=${STS_ID};` },
            { name: "mta-sts", type: "A", address: "127.0.0.1" },
          ]),
        },
      ],
    }),
    startRedis(),
  ])
  const caFile = join(tempDir("probe-standards"), "root.pem")
  writeFileSync(caFile, root.certPem)
  env = {
    RELAY_DNS_SERVERS: dns.resolver.server,
    RELAY_MX_PORT: String(smtp.port),
    RELAY_MTA_STS_CA: caFile,
    RELAY_MTA_STS_PORT: String((policyHost.address() as AddressInfo).port),
    REDIS_URL: redis.url,
    REDIS_PREFIX: `probe-${randomBytes(4).toString("hex")}`,
  }
})
afterAll(async () => {
  policyHost?.closeAllConnections()
  await Promise.all([
    smtp?.stop(),
    dns?.stop(),
    redis?.stop(),
    policyHost && new Promise<void>((resolve) => policyHost.close(() => resolve())),
  ])
})

/** The defaults of a domain without a partner policy: opportunistic, standards on. */
const probe = async (domain: string, overrides: Record<string, string> = {}, ...flags: Array<string>) => {
  const run = await mailconnect(["probe", domain, "--mode", "opportunistic", ...flags], {
    ...env,
    ...overrides,
  })
  return { ...run, report: flags.includes("--json") ? JSON.parse(run.stdout) : undefined }
}

describe("mailconnect probe: DANE", () => {
  it("a DANE domain: source dane, the validated TLSA record and what it matched", async () => {
    const [json, text] = await Promise.all([probe("dane.example", {}, "--json"), probe("dane.example")])
    expect(json.code).toBe(0)
    const server = json.report.servers[0]
    expect(server).toMatchObject({
      server: `mx.dane.example:${smtp.port}`,
      verdict: "ok",
      authority: {
        source: "dane",
        reason: { _tag: "TlsaValidated", owner: `_${smtp.port}._tcp.mx.dane.example` },
        tlsa: [{ usage: 3, selector: 1, matchingType: 1, data: eeRecord, usable: true }],
      },
      evidence: {
        source: "dane",
        tls: {
          verification: { ok: true, trust: "dane", dane: { usable: 1, match: { usage: 3, depth: 0 } } },
        },
      },
    })
    // MTA-STS was asked too (DANE wins): the domain publishes none.
    expect(json.report.mtaSts).toMatchObject({ _tag: "NoPolicy", reason: "no-record", cache: "ok" })
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(
      `  source       dane: validated TLSA records at _${smtp.port}._tcp.mx.dane.example`,
    )
    expect(text.stdout).toContain(`  tlsa         3 1 1 ${eeRecord}`)
    expect(text.stdout).toContain("  dane         matched 3 1 1 (DANE-EE) at depth 0")
    expect(text.stdout).toContain("mta-sts        no policy: no-record")
    expect(smtp.recorder.mailFroms()).toEqual([])
  })

  it("a key that matches no TLSA record: DANE_TLSA_MISMATCH and the problem", async () => {
    const [json, text] = await Promise.all([
      probe("mismatch.example", {}, "--json"),
      probe("mismatch.example"),
    ])
    expect(json.code).toBe(1)
    expect(json.report.servers[0]).toMatchObject({
      verdict: "DANE_TLSA_MISMATCH",
      authority: { source: "dane", tlsa: [{ usage: 3, usable: true }] },
      failure: { facts: { problem: "NO_MATCH" } },
      evidence: { tls: { verification: { ok: false, dane: { usable: 1, problem: "NO_MATCH" } } } },
    })
    expect(text.code).toBe(1)
    expect(text.stdout).toContain("  dane         NO_MATCH (1 usable record(s))")
    expect(text.stdout).toContain("verdict DANE_TLSA_MISMATCH")
  })

  it("RELAY_DANE=off: the same domain is opportunistic, and the probe says why", async () => {
    const { code, report } = await probe("dane.example", { RELAY_DANE: "off" }, "--json")
    expect(code).toBe(0)
    expect(report.servers[0].authority).toEqual({
      source: "none",
      reason: { _tag: "NoStandard", dane: "not-bound", mtaSts: "none-found" },
    })
  })
})

describe("mailconnect probe: MTA-STS", () => {
  it("fetches the policy, then finds it in the fleet cache; without Redis it still answers", async () => {
    const first = await probe("sts.example", {}, "--json")
    expect(first.code).toBe(0)
    expect(first.report.mtaSts).toMatchObject({
      _tag: "Policy",
      id: STS_ID,
      mode: "enforce",
      patterns: ["mx1.sts.example"],
      source: "fetched",
      cache: "ok",
    })
    expect(first.report.servers[0]).toMatchObject({
      server: `mx1.sts.example:${smtp.port}`,
      verdict: "ok",
      authority: { source: "mta-sts", reason: { _tag: "MtaStsPolicy", mode: "enforce", id: STS_ID } },
      evidence: { tls: { verification: { ok: true, matchedName: "mx1.sts.example" } } },
    })

    const cached = await probe("sts.example")
    expect(cached.code).toBe(0)
    expect(cached.stdout).toMatch(
      new RegExp(
        `^mta-sts        policy ${STS_ID} mode enforce mx mx1\\.sts\\.example; from the fleet cache`,
        "m",
      ),
    )
    expect(cached.stdout).toContain(`  source       mta-sts: MTA-STS policy ${STS_ID} (enforce)`)

    const closed = await freePort()
    const noRedis = await probe("sts.example", { REDIS_URL: `redis://127.0.0.1:${closed}` }, "--json")
    expect(noRedis.code).toBe(0)
    expect(noRedis.report.mtaSts).toMatchObject({ _tag: "Policy", source: "fetched", cache: "unavailable" })
    expect(noRedis.stderr).toContain("Redis unavailable")
  })
})
