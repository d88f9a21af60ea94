/**
 * Legacy TLS inbound: the standard MX listener never negotiates below TLS 1.2; the separate
 * legacy listener (TLS 1.0/1.1, OpenSSL security level 0 on it alone) takes mail only from a
 * partner whose agreement grants `legacyTls`, and not below that partner's agreed minimum.
 * A real TLS 1.1 client (Node/OpenSSL) on both listeners.
 */
import { Spool } from "@mailconnect/delivery-queue"
import { type CertificateAuthority, createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { partner, policyWith } from "@mailconnect/test-support"
import { Effect } from "effect"
import { simpleParser } from "mailparser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { type RunningIngress, send, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress
let root: CertificateAuthority

const agreement = {
  reference: "AG-1",
  signedOn: "2026-01-01",
  technicalContacts: [],
}

const policy = policyWith([
  partner("oldbank", {
    agreement: { ...agreement, legacyTls: { reason: "mainframe gateway until 2027" } },
    tls: { mode: "enforce", minVersion: "TLSv1.1", verify: { trust: "pkix", names: [], pins: [] } },
  }),
  partner("bank", { agreement }),
])

const tls11 = { minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" } as const
const tls10 = { minVersion: "TLSv1", maxVersion: "TLSv1", ciphers: "DEFAULT:@SECLEVEL=0" } as const

beforeAll(async () => {
  redis = await startRedis()
  root = await createRootCa({ commonName: "relay test root" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "legacy-tls",
    policy,
    config: testIngressConfig(
      relayCert,
      [
        { kind: "mx", host: "127.0.0.1", port: 0 },
        { kind: "mx-legacy", host: "127.0.0.1", port: 0 },
      ],
      fileUserDirectory(undefined, () => undefined),
    ),
  })
})

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

const to = ["bob@customer.example"]

describe("legacy TLS inbound", () => {
  it("the standard listener refuses a TLS 1.1 handshake, even from the legacy partner", async () => {
    const result = await send({
      port: ingress.port("mx"),
      ca: root.certPem,
      protocol: tls11,
      from: "ops@oldbank.example",
      to,
    })
    expect(result.ok).toBe(false)
    expect(result.code).toBeUndefined()
    expect(result.response).toMatch(/protocol version|unsupported protocol/i)
  })

  it("the legacy listener takes TLS 1.1 from the legacy partner, queued with the protocol on record", async () => {
    const result = await send({
      port: ingress.port("mx-legacy"),
      ca: root.certPem,
      protocol: tls11,
      from: "ops@oldbank.example",
      to,
    })
    expect(result.response).toMatch(/^250 2\.0\.0 Ok: queued as /)
    const id = /queued as (\S+)/.exec(result.response)![1]!
    const spooled = await ingress.run(Effect.flatMap(Spool, (q) => q.read(id)))
    const parsed = await simpleParser(spooled._tag === "Some" ? spooled.value.body : Buffer.alloc(0))
    expect(String(parsed.headers.get("received"))).toMatch(/with ESMTPS \(TLSv1\.1:/)
  })

  it("the legacy listener refuses TLS 1.1 from a partner without a legacy TLS agreement", async () => {
    const result = await send({
      port: ingress.port("mx-legacy"),
      ca: root.certPem,
      protocol: tls11,
      from: "ceo@bank.example",
      to,
    })
    expect(result.response).toMatch(
      /^550 5\.7\.1 TLSv1\.1 on the legacy TLS listener is reserved for partners with a legacy TLS agreement; bank has none/,
    )
    const stranger = await send({
      port: ingress.port("mx-legacy"),
      ca: root.certPem,
      protocol: tls11,
      from: "x@stranger.example",
      to,
    })
    expect(stranger.response).toMatch(
      /^550 5\.7\.1 TLSv1\.1 on the legacy TLS listener is reserved .*stranger\.example has none/,
    )
    expect(ingress.refused).toContain("legacy-tls")
  })

  it("the legacy listener holds the legacy partner to its agreed minimum (TLS 1.0 < TLS 1.1)", async () => {
    const result = await send({
      port: ingress.port("mx-legacy"),
      ca: root.certPem,
      protocol: tls10,
      from: "ops@oldbank.example",
      to,
    })
    expect(result.response).toMatch(/^550 5\.7\.1 TLSv1 is below TLSv1\.1, the minimum agreed with oldbank/)
  })

  it("the legacy listener is not a second door for anyone else, even over TLS 1.3", async () => {
    const result = await send({
      port: ingress.port("mx-legacy"),
      ca: root.certPem,
      from: "ceo@bank.example",
      to,
    })
    expect(result.response).toMatch(/^550 5\.7\.1 TLSv1\.3 on the legacy TLS listener is reserved/)
    const standard = await send({ port: ingress.port("mx"), ca: root.certPem, from: "ceo@bank.example", to })
    expect(standard.response).toMatch(/^250 2\.0\.0 /)
  })
})
