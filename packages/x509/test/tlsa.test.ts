/**
 * DANE matching (RFC 7672) against certificates from the test PKI: one field changed per test,
 * and for each check the certificate an attacker would present instead.
 */
import { X509Certificate } from "node:crypto"
import { beforeAll, describe, expect, it } from "vitest"
import { createRootCa, createSelfSigned, type IssuedCertificate } from "../../../tools/test-pki/src/index"
import { certificatesFromPem, isUsableTlsa, type TlsaRecord, tlsaAssociation, verifyDane } from "../src"

const now = new Date()
const chainOf = (issued: IssuedCertificate) => certificatesFromPem(issued.chainPem)
const record = (
  cert: X509Certificate,
  usage: number,
  selector: number,
  matchingType: number,
): TlsaRecord => ({
  usage,
  selector,
  matchingType,
  data: tlsaAssociation(cert, selector, matchingType),
})

let rootPem: string
let intermediatePem: string
let leaf: IssuedCertificate
let rogue: IssuedCertificate
let selfSigned: IssuedCertificate
let expiredLeaf: IssuedCertificate
beforeAll(async () => {
  const root = await createRootCa({ commonName: "dane root" })
  const intermediate = await root.issueIntermediate("dane intermediate")
  rootPem = root.certPem
  intermediatePem = intermediate.certPem
  leaf = await intermediate.issueServer({ names: ["mx.dane.example"] })
  expiredLeaf = await intermediate.issueServer({ names: ["mx.dane.example"], validity: "expired" })
  rogue = await (await createRootCa({ commonName: "rogue root" })).issueServer({ names: ["mx.dane.example"] })
  selfSigned = await createSelfSigned({ names: ["other.example"], validity: "expired" })
})

describe("which TLSA records an SMTP client may use", () => {
  it("takes DANE-TA and DANE-EE with known selectors and matching types, nothing else", () => {
    const cert = new X509Certificate(leaf.certPem)
    expect(isUsableTlsa(record(cert, 3, 1, 1))).toBe(true)
    expect(isUsableTlsa(record(cert, 2, 0, 2))).toBe(true)
    expect(isUsableTlsa(record(cert, 3, 0, 0))).toBe(true)
    expect(isUsableTlsa(record(cert, 1, 1, 1))).toBe(false) // PKIX-EE
    expect(isUsableTlsa(record(cert, 0, 1, 1))).toBe(false) // PKIX-TA
    expect(isUsableTlsa({ ...record(cert, 3, 1, 1), selector: 2 })).toBe(false)
    expect(isUsableTlsa({ ...record(cert, 3, 1, 1), matchingType: 3 })).toBe(false)
    // A SHA-256 record with a truncated digest matches nothing and must not be "usable".
    expect(isUsableTlsa({ ...record(cert, 3, 1, 1), data: new Uint8Array(16) })).toBe(false)
  })
})

describe("DANE-EE", () => {
  it.each([
    [0, 0],
    [0, 1],
    [0, 2],
    [1, 0],
    [1, 1],
    [1, 2],
  ])("matches the leaf by selector %i, matching type %i", (selector, matchingType) => {
    const verdict = verifyDane(
      chainOf(leaf),
      [record(new X509Certificate(leaf.certPem), 3, selector, matchingType)],
      [],
      now,
    )
    expect(verdict).toEqual({ ok: true, match: { usage: 3, selector, matchingType, depth: 0 } })
  })

  it("ignores names and dates: an expired self-signed key is authenticated by its record", () => {
    const cert = new X509Certificate(selfSigned.certPem)
    expect(verifyDane([cert], [record(cert, 3, 1, 1)], ["mx.dane.example"], now).ok).toBe(true)
  })

  it("refuses another key for the same names from another CA", () => {
    const verdict = verifyDane(chainOf(rogue), [record(new X509Certificate(leaf.certPem), 3, 1, 1)], [], now)
    expect(verdict).toEqual({ ok: false, problem: "NO_MATCH" })
  })

  it("does not accept a matching certificate that was merely sent along behind another leaf", () => {
    const genuine = new X509Certificate(leaf.certPem)
    const smuggled = [...chainOf(rogue), genuine]
    expect(verifyDane(smuggled, [record(genuine, 3, 1, 1)], [], now)).toEqual({
      ok: false,
      problem: "NO_MATCH",
    })
  })

  it("never uses a PKIX-EE record, even when it matches", () => {
    const cert = new X509Certificate(leaf.certPem)
    expect(verifyDane(chainOf(leaf), [record(cert, 1, 1, 1)], [], now)).toEqual({
      ok: false,
      problem: "NO_MATCH",
    })
  })
})

describe("DANE-TA", () => {
  it("authenticates a leaf that chains to the matching intermediate and carries the MX name", () => {
    const ta = new X509Certificate(intermediatePem)
    const verdict = verifyDane(chainOf(leaf), [record(ta, 2, 1, 1)], ["mx.dane.example", "dane.example"], now)
    expect(verdict).toEqual({
      ok: true,
      match: { usage: 2, selector: 1, matchingType: 1, depth: 1, name: "mx.dane.example" },
    })
  })

  it("refuses the right chain for the wrong name", () => {
    const ta = new X509Certificate(intermediatePem)
    expect(verifyDane(chainOf(leaf), [record(ta, 2, 0, 1)], ["mx.elsewhere.example"], now)).toEqual({
      ok: false,
      problem: "TA_NAME",
    })
  })

  it("refuses an expired leaf under a matching anchor", () => {
    const ta = new X509Certificate(intermediatePem)
    expect(verifyDane(chainOf(expiredLeaf), [record(ta, 2, 1, 1)], ["mx.dane.example"], now)).toEqual({
      ok: false,
      problem: "TA_EXPIRED",
    })
  })

  it("refuses a rogue leaf that sends the genuine anchor along without being signed by it", () => {
    const ta = new X509Certificate(intermediatePem)
    const forged = [...chainOf(rogue), ta]
    expect(verifyDane(forged, [record(ta, 2, 1, 1)], ["mx.dane.example"], now)).toEqual({
      ok: false,
      problem: "TA_CHAIN",
    })
  })

  it("matches only what the peer sent: a root it did not send is no anchor here", () => {
    const root = new X509Certificate(rootPem)
    const sent = chainOf(leaf).filter((c) => c.fingerprint256 !== root.fingerprint256)
    expect(verifyDane(sent, [record(root, 2, 1, 1)], ["mx.dane.example"], now)).toEqual({
      ok: false,
      problem: "NO_MATCH",
    })
  })
})
