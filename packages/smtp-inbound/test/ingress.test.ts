import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { QueueAdmin, Spool } from "@mailconnect/delivery-queue"
import { type CertificateAuthority, createRootCa, type IssuedCertificate } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { partner, policyWith } from "@mailconnect/test-support"
import { Effect } from "effect"
import { simpleParser } from "mailparser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory, formatUsersFile, hashPassword } from "../src"
import { type RunningIngress, send, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress
let root: CertificateAuthority
let partnerCa: CertificateAuthority
let memberCert: IssuedCertificate
let foreignCert: IssuedCertificate

const policy = () =>
  policyWith([
    partner("bank", { inbound: { requireTls: true, requireClientCertificate: false } }),
    partner("shop", {
      tls: { mode: "opportunistic", minVersion: "TLSv1.2", verify: { trust: "pkix", names: [], pins: [] } },
    }),
    partner("justice-a", {
      tls: {
        mode: "mtls",
        minVersion: "TLSv1.2",
        verify: {
          trust: "pkix",
          names: [],
          pins: [],
          ca: {
            file: "certs/justice-a.pem",
            pem: partnerCa.certPem,
            sha256: "x",
            notAfter: partnerCa.notAfter.toISOString(),
          },
        },
        clientCertificate: "relay",
      },
      inbound: { requireTls: true, requireClientCertificate: true },
      groups: ["justice"],
    }),
  ])

beforeAll(async () => {
  redis = await startRedis()
  root = await createRootCa({ commonName: "relay test root" })
  partnerCa = await createRootCa({ commonName: "justice-a CA" })
  const foreignCa = await createRootCa({ commonName: "someone else's CA" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  memberCert = await partnerCa.issueClient({ names: ["mta.justice-a.example"] })
  foreignCert = await foreignCa.issueClient({ names: ["mta.justice-a.example"] })
  const dir = mkdtempSync(join(tmpdir(), "mc-users-"))
  const usersFile = join(dir, "users")
  writeFileSync(
    usersFile,
    formatUsersFile([
      { name: "alice", hash: await hashPassword("correct horse"), domains: ["customer.example"] },
    ]),
  )
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "ingress",
    policy: policy(),
    config: testIngressConfig(
      relayCert,
      [
        { kind: "submission", host: "127.0.0.1", port: 0 },
        { kind: "submissions", host: "127.0.0.1", port: 0 },
        { kind: "mx", host: "127.0.0.1", port: 0 },
      ],
      fileUserDirectory(usersFile, () => undefined),
    ),
  })
})

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

const queuedId = (response: string) => /queued as (\S+)/.exec(response)?.[1]
const alice = { user: "alice", pass: "correct horse" }

describe("submission", () => {
  it("refuses AUTH without TLS", async () => {
    const result = await send({
      port: ingress.port("submission"),
      starttls: false,
      auth: alice,
      from: "alice@customer.example",
      to: ["bob@bank.example"],
    })
    expect(result.ok).toBe(false)
    expect(result.response).toMatch(/^538 5\.7\.0 /)
  })

  it("accepts with STARTTLS and AUTH, only after the message is queued, with a Received header naming the TLS", async () => {
    const result = await send({
      port: ingress.port("submission"),
      ca: root.certPem,
      auth: alice,
      from: "alice@customer.example",
      to: ["bob@bank.example", "carol@shop.example"],
    })
    expect(result.response).toMatch(/^250 2\.0\.0 Ok: queued as /)
    const id = queuedId(result.response)!
    const view = await ingress.run(Effect.flatMap(QueueAdmin, (q) => q.show(id)))
    expect(view.bodyStored).toBe(true)
    expect(view.jobs.map((j) => j.data.domain).sort()).toEqual(["bank.example", "shop.example"])
    const spooled = await ingress.run(Effect.flatMap(Spool, (q) => q.read(id)))
    const parsed = await simpleParser(spooled._tag === "Some" ? spooled.value.body : Buffer.alloc(0))
    expect(String(parsed.headers.get("received"))).toMatch(
      /by relay\.test \(mailconnect\) with ESMTPSA \(TLSv1\.3:TLS_AES_\w+\) id /,
    )
  })

  it("accepts over implicit TLS", async () => {
    const result = await send({
      port: ingress.port("submissions"),
      secure: true,
      ca: root.certPem,
      auth: alice,
      from: "alice@customer.example",
      to: ["bob@bank.example"],
    })
    expect(result.response).toMatch(/^250 2\.0\.0 /)
  })

  it("refuses a wrong password and a foreign sender domain", async () => {
    const wrong = await send({
      port: ingress.port("submission"),
      ca: root.certPem,
      auth: { user: "alice", pass: "nope" },
      from: "alice@customer.example",
      to: ["bob@bank.example"],
    })
    expect(wrong.response).toMatch(/^535 5\.7\.8 /)
    const foreign = await send({
      port: ingress.port("submission"),
      ca: root.certPem,
      auth: alice,
      from: "ceo@bank.example",
      to: ["bob@bank.example"],
    })
    expect(foreign.response).toMatch(/^550 5\.7\.1 Sender address rejected/)
  })

  it("refuses relaying without AUTH", async () => {
    const result = await send({
      port: ingress.port("submission"),
      ca: root.certPem,
      from: "alice@customer.example",
      to: ["bob@bank.example"],
    })
    expect(result.response).toMatch(/^530 5\.7\.0 /)
  })

  it("limits recipients and size", async () => {
    const many = await send({
      port: ingress.port("submission"),
      ca: root.certPem,
      auth: alice,
      from: "alice@customer.example",
      to: ["1", "2", "3", "4", "5", "6"].map((n) => `u${n}@bank.example`),
    })
    // The sixth RCPT is refused; the first five go through.
    expect(many.response).toMatch(/^250 2\.0\.0 /)
    expect(many.rejected).toHaveLength(1)
    expect(many.rejected[0]).toMatch(/^452 4\.5\.3 /)
    const big = await send({
      port: ingress.port("submission"),
      ca: root.certPem,
      auth: alice,
      from: "alice@customer.example",
      to: ["bob@bank.example"],
      body: `Subject: big\r\n\r\n${"x".repeat(100 * 1024)}\r\n`,
    })
    expect(big.response).toMatch(/^552 5\.3\.4 /)
  })
})

describe("inbound MX", () => {
  it("never relays: mail for a domain that is not ours is refused", async () => {
    const result = await send({
      port: ingress.port("mx"),
      ca: root.certPem,
      from: "x@shop.example",
      to: ["victim@elsewhere.example"],
    })
    expect(result.response).toMatch(/^554 5\.7\.1 Relay access denied/)
  })

  it("refuses plaintext from a requireTls partner and accepts it over TLS", async () => {
    const plain = await send({
      port: ingress.port("mx"),
      starttls: false,
      from: "ceo@bank.example",
      to: ["bob@customer.example"],
    })
    expect(plain.response).toMatch(/^530 5\.7\.0 Must issue a STARTTLS command first/)
    const secure = await send({
      port: ingress.port("mx"),
      ca: root.certPem,
      from: "ceo@bank.example",
      to: ["bob@customer.example"],
    })
    expect(secure.response).toMatch(/^250 2\.0\.0 /)
  })

  it("takes plaintext from senders without such a requirement", async () => {
    const result = await send({
      port: ingress.port("mx"),
      starttls: false,
      from: "news@shop.example",
      to: ["bob@customer.example"],
    })
    expect(result.response).toMatch(/^250 2\.0\.0 /)
  })

  // A certificate problem is temporary (450 4.7.1): the sender keeps the mail through a rollover.
  it("demands the mtls partner's client certificate: none, a wrong one, the right one", async () => {
    const none = await send({
      port: ingress.port("mx"),
      ca: root.certPem,
      from: "clerk@justice-a.example",
      to: ["bob@customer.example"],
    })
    expect(none.response).toMatch(/^450 4\.7\.1 Client certificate required for justice-a: NO_CERTIFICATE/)
    const wrong = await send({
      port: ingress.port("mx"),
      ca: root.certPem,
      clientCert: { cert: foreignCert.chainPem, key: foreignCert.keyPem },
      from: "clerk@justice-a.example",
      to: ["bob@customer.example"],
    })
    expect(wrong.response).toMatch(/^450 4\.7\.1 Client certificate required for justice-a: UNTRUSTED/)
    const right = await send({
      port: ingress.port("mx"),
      ca: root.certPem,
      clientCert: { cert: memberCert.chainPem, key: memberCert.keyPem },
      from: "clerk@justice-a.example",
      to: ["judge@court.customer.example"],
    })
    expect(right.response).toMatch(/^250 2\.0\.0 /)
  })

  it("lets only verified members write to a closed group's domain", async () => {
    const outsider = await send({
      port: ingress.port("mx"),
      ca: root.certPem,
      from: "ceo@bank.example",
      to: ["judge@court.customer.example"],
    })
    expect(outsider.response).toMatch(
      /^550 5\.7\.1 court\.customer\.example accepts mail only from members of closed group justice/,
    )
    expect(ingress.refused).toContain("closed-group")
  })
})
