/**
 * Client certificates at the inbound MX, against real TLS with certificates minted at test time:
 * which checks apply (the partner's inbound.verify — its sending servers), what a certificate must
 * be (clientAuth usage, CA issuers, leaf pins), and closed-group membership proven by the
 * certificate rather than claimed by the MAIL FROM domain — tried the way a malicious partner or
 * a stranger would.
 */
import type { TlsVerify } from "@mailconnect/policy"
import {
  type CertificateAuthority,
  createRootCa,
  type IssuedCertificate,
  misuseAsAuthority,
} from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { partner, policyWith } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { type RunningIngress, send, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress
let root: CertificateAuthority
let receivingCa: CertificateAuthority
let sendingCa: CertificateAuthority
let groupCa: CertificateAuthority
let pinnedCa: CertificateAuthority
const certs: Record<string, IssuedCertificate> = {}

const ca = (authority: Pick<IssuedCertificate, "certPem" | "notAfter">, name: string) => ({
  file: `certs/${name}.pem`,
  pem: authority.certPem,
  sha256: "x",
  notAfter: authority.notAfter.toISOString(),
})

const verify = (overrides: Partial<TlsVerify>): TlsVerify => ({
  trust: "pkix",
  names: [],
  pins: [],
  ...overrides,
})

const mtls = { requireTls: true, requireClientCertificate: true }

const policy = () =>
  policyWith([
    // Receiving servers under one CA, sending servers under another.
    partner("justice-a", {
      tls: { mode: "mtls", minVersion: "TLSv1.2", verify: verify({ ca: ca(receivingCa, "a-receiving") }) },
      inbound: { ...mtls, verify: verify({ ca: ca(sendingCa, "a-sending") }) },
      groups: ["justice"],
    }),
    // Members whose sending servers hold certificates of the group's shared CA.
    partner("justice-b", {
      inbound: { ...mtls, verify: verify({ ca: ca(groupCa, "group") }) },
      groups: ["justice"],
    }),
    partner("justice-c", {
      inbound: {
        ...mtls,
        verify: verify({ ca: ca(groupCa, "group"), names: ["mx.shared-hosting.example"] }),
      },
      groups: ["justice"],
    }),
    // Not a member, but its policy names the same hosting server as justice-c's.
    partner("hosted", {
      inbound: {
        ...mtls,
        verify: verify({ ca: ca(groupCa, "group"), names: ["mx.shared-hosting.example"] }),
      },
    }),
    partner("bank", {}),
    // A policy whose "CA" is a leaf certificate (CA:FALSE).
    partner("leaf-ca", { inbound: { ...mtls, verify: verify({ ca: ca(certs["a"]!, "leaf") }) } }),
    partner("pin-ca", { inbound: { ...mtls, verify: verify({ trust: "pins", pins: [pinnedCa.pin] }) } }),
    partner("pin-leaf", {
      inbound: { ...mtls, verify: verify({ trust: "pins", pins: [certs["pin-leaf"]!.pin] }) },
    }),
  ])

beforeAll(async () => {
  redis = await startRedis()
  root = await createRootCa({ commonName: "relay test root" })
  receivingCa = await createRootCa({ commonName: "justice-a receiving CA" })
  sendingCa = await createRootCa({ commonName: "justice-a sending CA" })
  groupCa = await createRootCa({ commonName: "justice group CA" })
  pinnedCa = await createRootCa({ commonName: "pinned partner CA" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  const a = { names: ["mta.justice-a.example"] }
  certs["a"] = await sendingCa.issueClient(a)
  certs["a-receiving-ca"] = await receivingCa.issueClient(a)
  certs["a-server-only"] = await sendingCa.issueServer(a)
  certs["a-no-eku"] = await sendingCa.issueClient({ ...a, extendedKeyUsage: "none" })
  certs["a-both-eku"] = await sendingCa.issueClient({ ...a, extendedKeyUsage: ["serverAuth", "clientAuth"] })
  certs["a-signed-by-leaf"] = await misuseAsAuthority(certs["a"]).issueClient({
    names: ["mta2.justice-a.example"],
  })
  certs["b"] = await groupCa.issueClient({ names: ["mta.justice-b.example"] })
  certs["stranger"] = await groupCa.issueClient({ names: ["mta.stranger.example"] })
  certs["shared"] = await groupCa.issueClient({ names: ["mx.shared-hosting.example"] })
  certs["leaf-ca-client"] = await misuseAsAuthority(certs["a"]).issueClient({
    names: ["mta.leaf-ca.example"],
  })
  certs["pin-leaf"] = await pinnedCa.issueClient({ names: ["mta.pin-leaf.example"] })
  certs["pin-ca"] = await pinnedCa.issueClient({ names: ["mta.pin-ca.example"] })
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "client-certificates",
    policy: policy(),
    config: testIngressConfig(
      relayCert,
      [{ kind: "mx", host: "127.0.0.1", port: 0 }],
      fileUserDirectory(undefined, () => undefined),
    ),
  })
})

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

const court = "judge@court.customer.example"
const ordinary = "bob@customer.example"

const mx = (options: { cert?: string; certPem?: string; from: string; to: string }) =>
  send({
    port: ingress.port("mx"),
    ca: root.certPem,
    ...(options.cert
      ? {
          clientCert: {
            cert: options.certPem ?? certs[options.cert]!.chainPem,
            key: certs[options.cert]!.keyPem,
          },
        }
      : {}),
    from: options.from,
    to: [options.to],
  })

describe("which certificate checks apply to a sending partner", () => {
  it("uses inbound.verify (sending servers), not tls.verify (receiving servers)", async () => {
    const sending = await mx({ cert: "a", from: "clerk@justice-a.example", to: ordinary })
    expect(sending.response).toMatch(/^250 2\.0\.0 /)
    const receiving = await mx({ cert: "a-receiving-ca", from: "clerk@justice-a.example", to: ordinary })
    expect(receiving.response).toMatch(/^450 4\.7\.1 Client certificate required for justice-a: UNTRUSTED/)
  })

  it("refuses a server-only certificate; takes one without extended key usage or with clientAuth among others", async () => {
    const serverOnly = await mx({ cert: "a-server-only", from: "clerk@justice-a.example", to: ordinary })
    expect(serverOnly.response).toMatch(
      /^450 4\.7\.1 Client certificate required for justice-a: NOT_CLIENT_AUTH \(extended key usage 1\.3\.6\.1\.5\.5\.7\.3\.1 does not include clientAuth\)/,
    )
    const noEku = await mx({ cert: "a-no-eku", from: "clerk@justice-a.example", to: ordinary })
    expect(noEku.response).toMatch(/^250 2\.0\.0 /)
    const both = await mx({ cert: "a-both-eku", from: "clerk@justice-a.example", to: ordinary })
    expect(both.response).toMatch(/^250 2\.0\.0 /)
  })

  it("refuses a certificate issued by a leaf (every issuer must be a CA), presented or configured", async () => {
    // OpenSSL does not build a path through a CA:FALSE issuer, so the presented one never links up.
    const presented = await mx({ cert: "a-signed-by-leaf", from: "clerk@justice-a.example", to: ordinary })
    expect(presented.response).toMatch(
      /^450 4\.7\.1 Client certificate required for justice-a: UNTRUSTED \(no trusted issuer for CN=mta\.justice-a\.example\)/,
    )
    const configured = await mx({ cert: "leaf-ca-client", from: "x@leaf-ca.example", to: ordinary })
    expect(configured.response).toMatch(
      /^450 4\.7\.1 Client certificate required for leaf-ca: UNTRUSTED \(issuer CN=mta\.justice-a\.example is not a CA certificate\)/,
    )
  })

  it("trust: pins matches the leaf's key only — a pinned CA key authenticates nobody", async () => {
    const caPinned = await mx({
      cert: "pin-ca",
      certPem: certs["pin-ca"]!.certPem + pinnedCa.certPem,
      from: "x@pin-ca.example",
      to: ordinary,
    })
    expect(caPinned.response).toMatch(/^450 4\.7\.1 Client certificate required for pin-ca: PIN_MISMATCH/)
    const leafPinned = await mx({ cert: "pin-leaf", from: "x@pin-leaf.example", to: ordinary })
    expect(leafPinned.response).toMatch(/^250 2\.0\.0 /)
  })
})

describe("closed-group membership is proven by the certificate", () => {
  it("a member's certificate may send its bounces (MAIL FROM:<>) to the group's domains", async () => {
    const bounce = await mx({ cert: "a", from: "", to: court })
    expect(bounce.response).toMatch(/^250 2\.0\.0 /)
    const fromShared = await mx({ cert: "b", from: "", to: court })
    expect(fromShared.response).toMatch(/^250 2\.0\.0 /)
  })

  it("partner A's valid certificate with partner B's domain is refused, member or not", async () => {
    const asMember = await mx({ cert: "a", from: "clerk@justice-b.example", to: court })
    expect(asMember.response).toMatch(
      /^550 5\.7\.1 Sender address rejected: the client certificate identifies justice-a, not justice-b \(justice-b\.example\)/,
    )
    const asOther = await mx({ cert: "a", from: "ceo@bank.example", to: ordinary })
    expect(asOther.response).toMatch(
      /^550 5\.7\.1 Sender address rejected: the client certificate identifies justice-a, not bank/,
    )
    expect(ingress.refused).toContain("certificate-identity")
  })

  it("partner B's domain without a certificate is refused (temporarily), and so is a bare null sender", async () => {
    const noCert = await mx({ from: "clerk@justice-b.example", to: court })
    expect(noCert.response).toMatch(/^450 4\.7\.1 Client certificate required for justice-b: NO_CERTIFICATE/)
    const nullSender = await mx({ from: "", to: court })
    expect(nullSender.response).toMatch(
      /^550 5\.7\.1 court\.customer\.example accepts mail only from members of closed group justice$/,
    )
  })

  it("a stranger with a valid certificate of the group's own CA gets nowhere", async () => {
    const ownDomain = await mx({ cert: "stranger", from: "x@stranger.example", to: court })
    expect(ownDomain.response).toMatch(/^550 5\.7\.1 court\.customer\.example accepts mail only from members/)
    const nullSender = await mx({ cert: "stranger", from: "", to: court })
    expect(nullSender.response).toMatch(
      /^550 5\.7\.1 court\.customer\.example accepts mail only from members/,
    )
    const memberDomain = await mx({ cert: "stranger", from: "x@justice-b.example", to: court })
    expect(memberDomain.response).toMatch(
      /^450 4\.7\.1 Client certificate required for justice-b: NAME_MISMATCH/,
    )
    // Its certificate identifies no partner, so its mail to ordinary domains is just unauthenticated mail.
    const ordinaryMail = await mx({ cert: "stranger", from: "x@stranger.example", to: ordinary })
    expect(ordinaryMail.response).toMatch(/^250 2\.0\.0 /)
  })

  it("a certificate that matches two partners identifies no member", async () => {
    const nullSender = await mx({ cert: "shared", from: "", to: court })
    expect(nullSender.response).toMatch(
      /^550 5\.7\.1 court\.customer\.example accepts mail only from members of closed group justice; the client certificate matches justice-c, hosted and identifies no single member/,
    )
    const asMember = await mx({ cert: "shared", from: "x@justice-c.example", to: court })
    expect(asMember.response).toMatch(/^550 5\.7\.1 court\.customer\.example accepts mail only from members/)
    const asNonMember = await mx({ cert: "shared", from: "x@hosted.example", to: court })
    expect(asNonMember.response).toMatch(
      /^550 5\.7\.1 court\.customer\.example accepts mail only from members/,
    )
    // Each partner's own policy does accept it for its own mail outside the group.
    const ordinaryMail = await mx({ cert: "shared", from: "x@justice-c.example", to: ordinary })
    expect(ordinaryMail.response).toMatch(/^250 2\.0\.0 /)
  })
})
