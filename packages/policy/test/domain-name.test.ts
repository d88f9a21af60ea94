import { describe, expect, it } from "vitest"
import { isAddressLiteral, normalizeAddress, patternToALabel, toALabel } from "../src/index"

describe("toALabel: one spelling of a domain", () => {
  it.each([
    ["ｂａｎｋ.example", "bank.example"],
    ["bank。example", "bank.example"],
    ["BANK.Example.", "bank.example"],
    ["müller-bank.de", "xn--mller-bank-9db.de"],
    ["MÜLLER-BANK.DE", "xn--mller-bank-9db.de"],
    ["xn--mller-bank-9db.de", "xn--mller-bank-9db.de"],
    ["\u200bbank.example", "bank.example"],
  ])("%s → %s", (input, expected) => {
    expect(toALabel(input)).toBe(expected)
  })

  it.each([
    "",
    "a..b",
    "-x.de",
    "x-.de",
    "xn--zz.de",
    "exa mple.com",
    "ex_ample.com",
    `${"a".repeat(64)}.de`,
  ])("refuses %j", (input) => {
    expect(toALabel(input)).toBeUndefined()
  })

  it("keeps the wildcard of a pattern and converts its suffix", () => {
    expect(patternToALabel("*.müller-bank.de")).toBe("*.xn--mller-bank-9db.de")
    expect(patternToALabel("*.a..b")).toBeUndefined()
  })
})

describe("normalizeAddress", () => {
  it("converts the domain, keeps the local part", () => {
    expect(normalizeAddress("Info@ｂａｎｋ.example")).toBe("Info@bank.example")
    expect(normalizeAddress("a@müller-bank.de")).toBe("a@xn--mller-bank-9db.de")
    expect(normalizeAddress("")).toBe("")
  })

  it("passes address literals, in one case", () => {
    expect(isAddressLiteral("[IPv6:2001:DB8::1]")).toBe(true)
    expect(normalizeAddress("u@[ipv6:2001:DB8::1]")).toBe("u@[IPv6:2001:db8::1]")
    expect(normalizeAddress("u@[192.0.2.1]")).toBe("u@[192.0.2.1]")
  })

  it("refuses what does not convert", () => {
    expect(normalizeAddress("u@xn--zz.de")).toBeUndefined()
    expect(normalizeAddress("nodomain")).toBeUndefined()
    expect(normalizeAddress("u@")).toBeUndefined()
  })
})
