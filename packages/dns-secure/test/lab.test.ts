/**
 * SecureDns against the real DNSSEC lab: a validating unbound over a knotd serving zones signed
 * at test time. Every `secure` below is unbound's AD bit, nothing the test asserted into being.
 */
import { type DnssecLab, type LabRecord, startDnssecLab } from "@mailconnect/test-dnssec"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DnsBogus, tlsaName } from "../src"
import { answerOf, ask, errorOf } from "./harness"

const TLSA_HEX = "8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d"

/** The same shape in every zone: an MX, its addresses, its TLSA, a TXT. */
const zoneRecords = (zone: string): ReadonlyArray<LabRecord> => [
  { name: "@", type: "MX", preference: 10, exchange: `mx.${zone}` },
  { name: "@", type: "MX", preference: 20, exchange: `backup.${zone}` },
  { name: "mx", type: "A", address: "192.0.2.25" },
  { name: "mx", type: "AAAA", address: "2001:db8::25" },
  { name: "_25._tcp.mx", type: "TLSA", usage: 3, selector: 1, matchingType: 1, data: TLSA_HEX },
  { name: "@", type: "TXT", text: "v=STSv1; id=20260101" },
]

/** Twenty 200-byte strings: ~4 kB with the signature, far over one 1232-byte UDP answer. */
const bigTxt: ReadonlyArray<LabRecord> = Array.from({ length: 20 }, (_, i) => ({
  name: "big",
  type: "TXT",
  text: `${String(i).padStart(2, "0")}${"x".repeat(198)}`,
}))

let lab: DnssecLab
let resolver: ReadonlyArray<string>

beforeAll(async () => {
  lab = await startDnssecLab({
    zones: [
      {
        name: "secure.example",
        signing: "signed",
        records: [
          ...zoneRecords("secure.example"),
          ...bigTxt,
          // DANE with a CNAME'd TLSA owner (RFC 7671 §7), within the zone and out to an unsigned one.
          { name: "_25._tcp.mail", type: "CNAME", target: "_25._tcp.mx.secure.example" },
          { name: "_25._tcp.outsourced", type: "CNAME", target: "_25._tcp.mx.insecure.example" },
          { name: "alias", type: "CNAME", target: "mx.secure.example" },
        ],
      },
      { name: "insecure.example", signing: "unsigned", records: zoneRecords("insecure.example") },
      { name: "bogus.example", signing: "bogus", records: zoneRecords("bogus.example") },
    ],
  })
  resolver = [lab.resolver.server]
})
afterAll(() => lab?.stop())

describe("a signed zone: secure answers", () => {
  it("MX, by preference", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.mx("secure.example")))
    expect(answer).toMatchObject({
      name: "secure.example",
      canonicalName: "secure.example",
      status: "records",
      secure: true,
      server: lab.resolver.server,
      records: [
        { preference: 10, exchange: "mx.secure.example" },
        { preference: 20, exchange: "backup.secure.example" },
      ],
    })
    expect(answer.ttl).toBeGreaterThan(0)
  })

  it("A and AAAA", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.addresses("MX.Secure.Example.")))
    expect(answer).toMatchObject({ name: "mx.secure.example", status: "records", secure: true })
    expect(answer.records).toEqual(["192.0.2.25", "2001:db8::25"])
    expect(answer.ipv4.secure && answer.ipv6.secure).toBe(true)
  })

  it("TLSA, parsed", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.tlsa(tlsaName("mx.secure.example", 25))))
    expect(answer.secure).toBe(true)
    expect(answer.records).toHaveLength(1)
    expect(answer.records[0]).toMatchObject({ usage: 3, selector: 1, matchingType: 1, hex: TLSA_HEX })
    expect(answer.records[0]?.data.equals(Buffer.from(TLSA_HEX, "hex"))).toBe(true)
  })

  it("TXT", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.txt("secure.example")))
    expect(answer).toMatchObject({ secure: true, records: ["v=STSv1; id=20260101"] })
  })

  it("NXDOMAIN, proven", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.tlsa("_25._tcp.absent.secure.example")))
    expect(answer).toMatchObject({ status: "nxdomain", secure: true, records: [] })
  })

  it("NODATA, proven", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.txt("mx.secure.example")))
    expect(answer).toMatchObject({ status: "nodata", secure: true, records: [] })
  })

  it("follows a CNAME to the TLSA record and reports where it ended", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.tlsa("_25._tcp.mail.secure.example")))
    expect(answer).toMatchObject({
      name: "_25._tcp.mail.secure.example",
      canonicalName: "_25._tcp.mx.secure.example",
      status: "records",
      secure: true,
    })
    expect(answer.records[0]?.hex).toBe(TLSA_HEX)
    const addresses = answerOf(await ask(resolver, (dns) => dns.addresses("alias.secure.example")))
    expect(addresses).toMatchObject({ canonicalName: "mx.secure.example", secure: true })
  })

  it("a CNAME chain into an unsigned zone is not secure", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.tlsa("_25._tcp.outsourced.secure.example")))
    expect(answer).toMatchObject({
      canonicalName: "_25._tcp.mx.insecure.example",
      status: "records",
      secure: false,
    })
    expect(answer.records[0]?.hex).toBe(TLSA_HEX)
  })

  it("falls back to TCP when the UDP answer is truncated", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.txt("big.secure.example")))
    expect(answer.secure).toBe(true)
    expect(answer.records).toHaveLength(20)
    expect([...answer.records].sort()[19]).toBe(`19${"x".repeat(198)}`)
  })
})

describe("an unsigned zone (insecure delegation): answers, not secure", () => {
  it("MX, A/AAAA and TLSA come back with secure false", async () => {
    const mx = answerOf(await ask(resolver, (dns) => dns.mx("insecure.example")))
    expect(mx).toMatchObject({ status: "records", secure: false })
    expect(mx.records[0]).toEqual({ preference: 10, exchange: "mx.insecure.example" })
    const addresses = answerOf(await ask(resolver, (dns) => dns.addresses("mx.insecure.example")))
    expect(addresses).toMatchObject({ records: ["192.0.2.25", "2001:db8::25"], secure: false })
    const tlsa = answerOf(await ask(resolver, (dns) => dns.tlsa("_25._tcp.mx.insecure.example")))
    expect(tlsa).toMatchObject({ status: "records", secure: false })
  })

  it("a denial there is not secure either", async () => {
    const answer = answerOf(await ask(resolver, (dns) => dns.tlsa("_25._tcp.absent.insecure.example")))
    expect(answer).toMatchObject({ status: "nxdomain", secure: false })
  })
})

describe("a bogus zone", () => {
  it("fails with DnsBogus, naming the resolver and its extended error", async () => {
    const error = errorOf(await ask(resolver, (dns) => dns.mx("bogus.example")))
    expect(error).toBeInstanceOf(DnsBogus)
    expect(error).toMatchObject({
      _tag: "DnsBogus",
      name: "bogus.example",
      type: "MX",
      servers: [lab.resolver.server],
      extendedError: { code: 7 },
    })
  })

  it("a denial from it is bogus too, not an NXDOMAIN", async () => {
    const error = errorOf(await ask(resolver, (dns) => dns.tlsa("_25._tcp.absent.bogus.example")))
    expect(error).toMatchObject({ _tag: "DnsBogus", type: "TLSA" })
  })

  it("an address lookup with one bogus half fails whole", async () => {
    const error = errorOf(await ask(resolver, (dns) => dns.addresses("mx.bogus.example")))
    expect(error).toMatchObject({ _tag: "DnsBogus" })
  })
})
