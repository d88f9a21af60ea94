/** The pure hop filter of RFC 8689: a happy-path hop per source, one field overridden per test. */
import type { PartnerTls } from "@mailconnect/policy"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { applyTlsDemand, authenticatesForRequireTls, type HopAuthority, type PlannedHop } from "../src"

const tls = (mode: PartnerTls["mode"]): PartnerTls => ({
  mode,
  minVersion: "TLSv1.2",
  verify: { trust: "pkix", names: [], pins: [] },
})
const usable = { usage: 3, selector: 1, matchingType: 1, data: new Uint8Array(32) }
const unusable = { usage: 1, selector: 1, matchingType: 1, data: new Uint8Array(32) }

const hop = (host: string, authority: HopAuthority): PlannedHop => ({
  hop: { host, port: 25, preference: 10, addresses: ["192.0.2.1"], source: "mx" },
  authority,
})
const partner = (mode: PartnerTls["mode"]) => hop("mx.partner.example", { source: "partner", tls: tls(mode) })
const dane = (tlsa = [usable]) => hop("mx.dane.example", { source: "dane", tls: tls("enforce"), tlsa })
const sts = (mode: "enforce" | "testing") =>
  hop("mx.sts.example", {
    source: "mta-sts",
    tls: tls(mode === "enforce" ? "enforce" : "opportunistic"),
    mtaSts: { mode, id: "1", patterns: ["mx.sts.example"] },
  })
const none = hop("mx.plain.example", { source: "none", tls: tls("opportunistic") })

describe("authenticatesForRequireTls", () => {
  it("accepts partner enforce/mtls, DANE with a usable record, MTA-STS enforce", () => {
    for (const p of [partner("enforce"), partner("mtls"), dane(), sts("enforce")])
      expect(authenticatesForRequireTls(p.authority)).toBe(true)
  })
  it("refuses an opportunistic partner, DANE without usable records, MTA-STS testing, none", () => {
    for (const p of [partner("opportunistic"), dane([unusable]), dane([]), sts("testing"), none])
      expect(authenticatesForRequireTls(p.authority)).toBe(false)
  })
})

describe("applyTlsDemand", () => {
  it("keeps every hop as planned without a demand", () => {
    const planned = [dane(), none]
    expect(applyTlsDemand(planned, {}, "d.example")).toEqual(Either.right(planned))
  })
  it("requireTls: keeps only authenticated hops", () => {
    const result = applyTlsDemand([none, dane(), sts("testing")], { requireTls: true }, "d.example")
    expect(Either.getOrThrow(result).map((p) => p.hop.host)).toEqual(["mx.dane.example"])
  })
  it("requireTls with no authenticated hop: RequireTlsUnmet no-authenticated-hop, 5.7.30, bounce", () => {
    const result = applyTlsDemand([none, dane([unusable])], { requireTls: true }, "d.example")
    expect(Either.isLeft(result)).toBe(true)
    const error = Either.flip(result).pipe(Either.getOrThrow)
    expect(error).toMatchObject({
      _tag: "RequireTlsUnmet",
      code: "REQUIRETLS_UNMET",
      status: "5.7.30",
      retry: "bounce",
      form: "no-authenticated-hop",
      server: "d.example",
    })
  })
  it("requireTls wins over tlsRequiredNo", () => {
    const result = applyTlsDemand([dane()], { requireTls: true, tlsRequiredNo: true }, "d.example")
    expect(Either.getOrThrow(result)[0]!.authority.tls.mode).toBe("enforce")
  })
  it("tlsRequiredNo: DANE and MTA-STS hops become opportunistic, keeping what is verified; partners unchanged", () => {
    const result = Either.getOrThrow(
      applyTlsDemand([dane(), sts("enforce"), partner("mtls")], { tlsRequiredNo: true }, "d.example"),
    )
    expect(result.map((p) => [p.authority.source, p.authority.tls.mode])).toEqual([
      ["dane", "opportunistic"],
      ["mta-sts", "opportunistic"],
      ["partner", "mtls"],
    ])
    expect(result[0]!.authority.tlsa).toEqual([usable])
    expect(result[1]!.authority.mtaSts).toEqual({ mode: "enforce", id: "1", patterns: ["mx.sts.example"] })
  })
})
