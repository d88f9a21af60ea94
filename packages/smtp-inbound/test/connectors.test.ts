/**
 * Customer connectors on the inbound MX port, against real listeners, real TLS (certificates minted
 * at test time), a real Redis queue, and nodemailer as the customer's server — bound to source
 * addresses in 127.0.0.0/8 (Linux routes all of it to lo), so the listener sees a real peer
 * address for each "network". Each refusal is tried the way a stranger or a careless customer
 * would, and asserts that nothing was queued.
 */
import { QueueAdmin, Spool } from "@mailconnect/delivery-queue"
import type { Connector, PolicySet } from "@mailconnect/policy"
import { type CertificateAuthority, createRootCa, type IssuedCertificate } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { partner, policyWith } from "@mailconnect/test-support"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { type RunningIngress, send, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress
let root: CertificateAuthority
let customerCa: CertificateAuthority
let certs: Record<"cloud" | "hybrid" | "wrongName" | "otherCa", IssuedCertificate>

const clientCertificate = (names: ReadonlyArray<string>): Connector["clientCertificate"] => ({
  trust: "pkix",
  names: [...names],
  pins: [],
  ca: {
    file: "certs/customer-ca.pem",
    pem: customerCa.certPem,
    sha256: "x",
    notAfter: customerCa.notAfter.toISOString(),
  },
})

const connectors = () =>
  ({
    // The customer's office servers: by address alone, plaintext allowed (like Postfix's mynetworks).
    office: {
      name: "office",
      networks: ["127.0.0.2/32"],
      senderDomains: ["customer.example", "*.customer.example"],
      requireTls: false,
    },
    branch: {
      name: "branch",
      networks: ["127.0.0.4/32"],
      senderDomains: ["branch.example"],
      requireTls: true,
    },
    // Hosted servers at unknown addresses: the certificate alone decides.
    cloud: {
      name: "cloud",
      networks: [],
      clientCertificate: clientCertificate(["mta.cloud.example"]),
      senderDomains: ["cloud.example"],
      requireTls: true,
    },
    // Both: the network and the certificate.
    hybrid: {
      name: "hybrid",
      networks: ["127.0.0.5/32"],
      clientCertificate: clientCertificate(["mta.hybrid.example"]),
      senderDomains: ["hybrid.example"],
      requireTls: true,
    },
  }) satisfies Record<string, Connector>

let live: PolicySet

const basePolicy = (): PolicySet => ({
  ...policyWith([partner("bank", {})]),
  connectors: connectors(),
})

const totalJobs = async () => {
  const counts = await ingress.run(Effect.flatMap(QueueAdmin, (q) => q.counts))
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

const queuedDomains = async (reply: string) => {
  const id = /queued as (\S+)/.exec(reply)?.[1]
  expect(id).toBeDefined()
  const view = await ingress.run(Effect.flatMap(QueueAdmin, (q) => q.show(id!)))
  return view.jobs.map((j) => j.data.domain).sort()
}

/** The customer's server: STARTTLS with our CA unless told otherwise, from the given address. */
const relay = (
  localAddress: string,
  options: { from?: string; to?: ReadonlyArray<string>; plaintext?: boolean; cert?: IssuedCertificate } = {},
) =>
  send({
    port: ingress.port("mx"),
    localAddress,
    ...(options.plaintext ? { starttls: false } : { ca: root.certPem }),
    ...(options.cert ? { clientCert: { cert: options.cert.chainPem, key: options.cert.keyPem } } : {}),
    from: options.from ?? "alice@customer.example",
    to: options.to ?? ["bob@remote.example"],
  })

/** Refused, and not a single job more in the queue. */
const expectRefused = async (result: Promise<{ response: string }>, reply: RegExp) => {
  const before = await totalJobs()
  expect((await result).response).toMatch(reply)
  expect(await totalJobs()).toBe(before)
}

beforeAll(async () => {
  redis = await startRedis()
  root = await createRootCa({ commonName: "relay test root" })
  customerCa = await createRootCa({ commonName: "customer client CA" })
  const otherCa = await createRootCa({ commonName: "someone else's CA" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  certs = {
    cloud: await customerCa.issueClient({ names: ["mta.cloud.example"] }),
    hybrid: await customerCa.issueClient({ names: ["mta.hybrid.example"] }),
    wrongName: await customerCa.issueClient({ names: ["mta.elsewhere.example"] }),
    otherCa: await otherCa.issueClient({ names: ["mta.cloud.example"] }),
  }
  live = basePolicy()
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "connectors",
    policy: live,
    livePolicy: () => live,
    config: testIngressConfig(
      relayCert,
      [{ kind: "mx", host: "127.0.0.1", port: 0 }],
      fileUserDirectory("/nonexistent/users", () => undefined),
    ),
  })
})

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

describe("connectors by network", () => {
  it("relays from 127.0.0.2 (office, 127.0.0.2/32) to a remote domain, queued like submission", async () => {
    const result = await relay("127.0.0.2", { to: ["bob@remote.example", "carol@customer.example"] })
    expect(result.response).toMatch(/^250 2\.0\.0 Ok: queued as /)
    expect(await queuedDomains(result.response)).toEqual(["customer.example", "remote.example"])
    const id = /queued as (\S+)/.exec(result.response)![1]!
    const spooled = await ingress.run(Effect.flatMap(Spool, (s) => s.read(id)))
    const body = spooled._tag === "Some" ? spooled.value.body.toString("latin1") : ""
    expect(body).toMatch(/^Received: from \S+ \(\[127\.0\.0\.2\]\) \(connector office\)/)
  })

  it("relays from office in plaintext, which office allows, and for its subdomains and bounces", async () => {
    const plain = await relay("127.0.0.2", { plaintext: true, from: "ops@eu.customer.example" })
    expect(plain.response).toMatch(/^250 2\.0\.0 /)
    expect((await relay("127.0.0.2", { from: "" })).response).toMatch(/^250 2\.0\.0 /)
  })

  it("treats the same client from 127.0.0.3 as inbound MX: 554 5.7.1, nothing queued; local mail still taken", async () => {
    await expectRefused(
      relay("127.0.0.3"),
      /^554 5\.7\.1 Relay access denied: remote\.example is not a domain of ours/,
    )
    await expectRefused(relay("127.0.0.3", { plaintext: true }), /^554 5\.7\.1 Relay access denied/)
    expect((await relay("127.0.0.3", { to: ["carol@customer.example"] })).response).toMatch(/^250 2\.0\.0 /)
  })

  it("refuses a sender domain outside office's list with 550 5.7.1 (a spoofed partner domain too)", async () => {
    await expectRefused(
      relay("127.0.0.2", { from: "x@other.example" }),
      /^550 5\.7\.1 Relay access denied: connector office may relay only for customer\.example, \*\.customer\.example, not other\.example/,
    )
    await expectRefused(
      relay("127.0.0.2", { from: "ceo@bank.example" }),
      /^550 5\.7\.1 Relay access denied: connector office/,
    )
    // Not a relay: mail for our own domains is inbound MX as from anyone.
    expect(
      (await relay("127.0.0.2", { from: "x@other.example", to: ["carol@customer.example"] })).response,
    ).toMatch(/^250 2\.0\.0 /)
  })

  it("requires TLS where the connector says so: 530 5.7.0 before STARTTLS, relayed inside TLS", async () => {
    await expectRefused(
      relay("127.0.0.4", { plaintext: true, from: "it@branch.example" }),
      /^530 5\.7\.0 Must issue a STARTTLS command first: connector branch requires TLS/,
    )
    expect((await relay("127.0.0.4", { from: "it@branch.example" })).response).toMatch(/^250 2\.0\.0 /)
  })

  it("follows the live policy: a connector removed stops relaying at once, without a restart", async () => {
    const { office: _removed, ...rest } = connectors()
    live = { ...basePolicy(), connectors: rest }
    try {
      await expectRefused(relay("127.0.0.2"), /^554 5\.7\.1 Relay access denied/)
      live = {
        ...basePolicy(),
        connectors: { ...rest, office: { ...connectors().office, networks: ["127.0.0.3/32"] } },
      }
      expect((await relay("127.0.0.3")).response).toMatch(/^250 2\.0\.0 /)
    } finally {
      live = basePolicy()
    }
  })
})

describe("connectors by client certificate", () => {
  it("relays for a certificate of the connector's CA with its name, from any address", async () => {
    const result = await relay("127.0.0.3", { from: "app@cloud.example", cert: certs.cloud })
    expect(result.response).toMatch(/^250 2\.0\.0 /)
    expect(await queuedDomains(result.response)).toEqual(["remote.example"])
  })

  it("is inbound MX for a certificate of another CA, one with a wrong name, none, or plaintext", async () => {
    const from = "app@cloud.example"
    await expectRefused(relay("127.0.0.3", { from, cert: certs.otherCa }), /^554 5\.7\.1 Relay access denied/)
    await expectRefused(
      relay("127.0.0.3", { from, cert: certs.wrongName }),
      /^554 5\.7\.1 Relay access denied/,
    )
    await expectRefused(relay("127.0.0.3", { from }), /^554 5\.7\.1 Relay access denied/)
    await expectRefused(relay("127.0.0.3", { from, plaintext: true }), /^554 5\.7\.1 Relay access denied/)
  })

  it("does not let a valid certificate send as another connector's domains", async () => {
    await expectRefused(
      relay("127.0.0.3", { from: "alice@customer.example", cert: certs.cloud }),
      /^550 5\.7\.1 Relay access denied: connector cloud may relay only for cloud\.example, not customer\.example/,
    )
  })

  it("needs network and certificate where both are required; a wrong certificate from the network is 450 4.7.1", async () => {
    const from = "billing@hybrid.example"
    expect((await relay("127.0.0.5", { from, cert: certs.hybrid })).response).toMatch(/^250 2\.0\.0 /)
    await expectRefused(relay("127.0.0.3", { from, cert: certs.hybrid }), /^554 5\.7\.1 Relay access denied/)
    await expectRefused(
      relay("127.0.0.5", { from, cert: certs.wrongName }),
      /^450 4\.7\.1 Client certificate required by connector hybrid: NAME_MISMATCH/,
    )
    await expectRefused(
      relay("127.0.0.5", { from }),
      /^450 4\.7\.1 Client certificate required by connector hybrid: NO_CERTIFICATE/,
    )
    await expectRefused(
      relay("127.0.0.5", { from, plaintext: true }),
      /^530 5\.7\.0 Must issue a STARTTLS command first: connector hybrid requires TLS/,
    )
  })
})
