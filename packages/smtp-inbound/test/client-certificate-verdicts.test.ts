/**
 * The client-certificate verdict on its own, with real certificates minted at test time: the
 * attacks that need no TLS server to show — cause precedence, the subject CN, partial wildcards.
 */
import { X509Certificate } from "node:crypto"
import type { Partner, TlsVerify } from "@mailconnect/policy"
import { type CertificateAuthority, createRootCa } from "@mailconnect/test-pki"
import { partner } from "@mailconnect/test-support"
import { beforeAll, describe, expect, it } from "vitest"
import { verifyClientCertificate } from "../src/client-certificate"

let partnerCa: CertificateAuthority
let strangerCa: CertificateAuthority

beforeAll(async () => {
  partnerCa = await createRootCa({ commonName: "partner sending CA" })
  strangerCa = await createRootCa({ commonName: "stranger CA" })
})

const withVerify = (verify: Partial<TlsVerify>): Partner =>
  partner("bank", {
    inbound: {
      requireTls: true,
      requireClientCertificate: true,
      verify: {
        trust: "pkix",
        names: [],
        pins: [],
        ca: { file: "certs/bank.pem", pem: partnerCa.certPem, sha256: "", notAfter: "" },
        ...verify,
      },
    },
  })

const verdict = (chainPem: string, subject: Partner) =>
  verifyClientCertificate({
    chain: (chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map(
      (pem) => new X509Certificate(pem),
    ),
    partner: subject,
    now: Date.now(),
  })

describe("client certificate verdicts", () => {
  it("an expired certificate from a CA the partner does not use: UNTRUSTED, not EXPIRED", async () => {
    const cert = await strangerCa.issueClient({ names: ["mx.bank.example"], validity: "expired" })
    expect(verdict(cert.chainPem, withVerify({}))).toMatchObject({ ok: false, problem: "UNTRUSTED" })
  })

  it("an expired certificate of the partner's CA: EXPIRED", async () => {
    const cert = await partnerCa.issueClient({ names: ["mx.bank.example"], validity: "expired" })
    expect(verdict(cert.chainPem, withVerify({}))).toMatchObject({ ok: false, problem: "EXPIRED" })
  })

  it("the subject CN alone never names the sending server", async () => {
    const cert = await partnerCa.issueClient({ names: [], commonName: "mx.bank.example" })
    expect(verdict(cert.chainPem, withVerify({ names: ["mx.bank.example"] }))).toMatchObject({
      ok: false,
      problem: "NAME_MISMATCH",
    })
    expect(verdict(cert.chainPem, withVerify({}))).toMatchObject({ ok: false, problem: "NAME_MISMATCH" })
  })

  it("a partial wildcard (m*.bank.example) matches nothing", async () => {
    const cert = await partnerCa.issueClient({ names: ["m*.bank.example"] })
    expect(verdict(cert.chainPem, withVerify({ names: ["mx.bank.example"] }))).toMatchObject({
      ok: false,
      problem: "NAME_MISMATCH",
    })
    expect(verdict(cert.chainPem, withVerify({}))).toMatchObject({ ok: false, problem: "NAME_MISMATCH" })
  })

  it("a name inside the partner's domain, from its CA: accepted", async () => {
    const cert = await partnerCa.issueClient({ names: ["mx.bank.example"] })
    expect(verdict(cert.chainPem, withVerify({}))).toMatchObject({ ok: true })
    expect(verdict(cert.chainPem, withVerify({ names: ["mx.bank.example"] }))).toMatchObject({ ok: true })
  })
})
