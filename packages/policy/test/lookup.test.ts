import { describe, expect, it } from "vitest"
import { formatDuration, makeLookup, type Partner, type PolicySet, parseDuration } from "../src"

const retry = { schedule: [300_000], every: 3_600_000, warnAfter: 14_400_000, expireAfter: 864_000_000 }
const partner = (name: string, domains: string[]): Partner => ({
  name,
  domains,
  tls: { mode: "enforce", minVersion: "TLSv1.2", verify: { trust: "pkix", names: [], pins: [] } },
  inbound: { requireTls: false, requireClientCertificate: false },
  retry,
  groups: [],
})
const policy: PolicySet = {
  defaults: {
    tls: { mode: "opportunistic", minVersion: "TLSv1.2" },
    retry,
    dsn: { languages: ["de", "en"] },
  },
  partners: {
    bank: partner("bank", ["bank.example"]),
    bankWide: partner("bankWide", ["*.bank.example"]),
    deep: partner("deep", ["*.eu.bank.example"]),
  },
  localDomains: {
    "customer.example": { domain: "customer.example", deliverTo: { host: "10.0.0.1", port: 25 }, groups: [] },
  },
  groups: {},
}
const index = {
  exact: { "bank.example": "bank" },
  wildcard: { "bank.example": "bankWide", "eu.bank.example": "deep" },
}

describe("lookup", () => {
  const lookup = makeLookup(policy, index)
  it("prefers an exact domain over a wildcard", () => {
    expect(lookup.partnerFor("bank.example")?.name).toBe("bank")
  })
  it("picks the most specific wildcard", () => {
    expect(lookup.partnerFor("mx.eu.bank.example")?.name).toBe("deep")
    expect(lookup.partnerFor("us.bank.example")?.name).toBe("bankWide")
  })
  it("ignores case and a trailing dot", () => {
    expect(lookup.partnerFor("Mail.EU.Bank.Example.")?.name).toBe("deep")
  })
  it("falls back to the defaults for unknown domains", () => {
    const effective = lookup.effective("other.example")
    expect(effective.partner).toBeUndefined()
    expect(effective.tls.mode).toBe("opportunistic")
  })
  it("finds local domains", () => {
    expect(lookup.localDomain("CUSTOMER.example")?.deliverTo.port).toBe(25)
    expect(lookup.localDomain("bank.example")).toBeUndefined()
  })
})

describe("durations", () => {
  it("parses the units operators write", () => {
    expect(parseDuration("30s")).toBe(30_000)
    expect(parseDuration("5m")).toBe(300_000)
    expect(parseDuration("4h")).toBe(14_400_000)
    expect(parseDuration("10d")).toBe(864_000_000)
    expect(parseDuration("1y")).toBe(31_536_000_000)
  })
  it("rejects other forms", () => {
    for (const bad of ["", "5", "1.5h", "-1h", "1h30m", "h"]) expect(parseDuration(bad)).toBeUndefined()
  })
  it("formats with the largest exact unit", () => {
    expect(formatDuration(14_400_000)).toBe("4h")
    expect(formatDuration(90_000)).toBe("90s")
    expect(formatDuration(864_000_000)).toBe("10d")
  })
})
