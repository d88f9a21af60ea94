import { describe, expect, it } from "vitest"
import { networkMatcher, parseNetwork } from "../src"

describe("parseNetwork", () => {
  it("canonicalises IPv4 and IPv6 networks, and a bare address as one host", () => {
    expect(parseNetwork("10.0.0.0/8")).toEqual({
      ok: true,
      parsed: { network: "10.0.0.0/8", family: "ipv4", prefix: 8 },
    })
    expect(parseNetwork(" 127.0.0.2 ")).toMatchObject({ ok: true, parsed: { network: "127.0.0.2/32" } })
    expect(parseNetwork("2001:DB8:0:0::/32")).toMatchObject({
      ok: true,
      parsed: { network: "2001:db8::/32" },
    })
    expect(parseNetwork("::1")).toMatchObject({ ok: true, parsed: { network: "::1/128", prefix: 128 } })
  })

  it("refuses what is probably a typo", () => {
    expect(parseNetwork("10.1/16")).toEqual({ ok: false, problem: "syntax" })
    expect(parseNetwork("0x7f.0.0.1/32")).toEqual({ ok: false, problem: "syntax" })
    expect(parseNetwork("mail.example/32")).toEqual({ ok: false, problem: "syntax" })
    expect(parseNetwork("fe80::1%eth0/128")).toEqual({ ok: false, problem: "syntax" })
    expect(parseNetwork("10.0.0.0/33")).toEqual({ ok: false, problem: "prefix" })
    expect(parseNetwork("10.0.0.0/")).toEqual({ ok: false, problem: "prefix" })
    expect(parseNetwork("2001:db8::/129")).toEqual({ ok: false, problem: "prefix" })
    expect(parseNetwork("10.0.0.1/8")).toEqual({ ok: false, problem: "host-bits", suggestion: "10.0.0.0/8" })
    expect(parseNetwork("2001:db8::1/32")).toEqual({
      ok: false,
      problem: "host-bits",
      suggestion: "2001:db8::/32",
    })
    expect(parseNetwork("::ffff:10.0.0.0/104")).toEqual({ ok: false, problem: "mapped" })
  })
})

describe("networkMatcher", () => {
  it("matches IPv4 and IPv6 clients, and an IPv4-mapped client as IPv4", () => {
    const matches = networkMatcher(["127.0.0.2/32", "192.0.2.0/24", "2001:db8:1::/48"])
    expect(matches("127.0.0.2")).toBe(true)
    expect(matches("127.0.0.3")).toBe(false)
    expect(matches("192.0.2.200")).toBe(true)
    expect(matches("::ffff:127.0.0.2")).toBe(true)
    expect(matches("::ffff:127.0.0.3")).toBe(false)
    expect(matches("2001:db8:1:ff::25")).toBe(true)
    expect(matches("2001:db8:2::25")).toBe(false)
  })

  it("matches nothing without networks, for garbage, and across families", () => {
    expect(networkMatcher([])("127.0.0.2")).toBe(false)
    expect(networkMatcher(["0.0.0.0/0"])("not an address")).toBe(false)
    expect(networkMatcher(["0.0.0.0/0"])("::1")).toBe(false)
    expect(networkMatcher(["::/0"])("127.0.0.1")).toBe(false)
  })
})
