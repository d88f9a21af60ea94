import { makeLookup } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { describe, expect, it } from "vitest"
import { domainOf, dsnMessageIdFor, groupByDomain, jobIdFor, parseJobId, routeFor } from "../src"
import { partner, policySet } from "./harness"

describe("job ids", () => {
  it("keep an ordinary domain readable", () => {
    expect(jobIdFor("mhx3k2a1-9f2c4e1a7b3d", "bank.example")).toBe("mhx3k2a1-9f2c4e1a7b3d/bank.example")
  })

  it.each([
    ["[IPv6:2001:db8::1]", "m1/[IPv6%3A2001%3Adb8%3A%3A1]"],
    ["[127.0.0.1]", "m1/[127.0.0.1]"],
    ["[IPv6:::ffff:192.0.2.1]", "m1/[IPv6%3A%3A%3Affff%3A192.0.2.1]"],
  ])("encode the colons of the address literal %s (BullMQ refuses ':' in ids), reversibly", (domain, id) => {
    expect(jobIdFor("m1", domain)).toBe(id)
    expect(jobIdFor("m1", domain)).not.toContain(":")
    expect(parseJobId(id)).toEqual({ messageId: "m1", domain })
  })

  it("round-trip parts that contain the escape character or the separator", () => {
    const messageId = "odd%3A/id:x"
    const domain = "[IPv6:2001:db8::25]"
    const id = jobIdFor(messageId, domain)
    expect(id.split("/")).toHaveLength(2)
    expect(id).not.toContain(":")
    expect(parseJobId(id)).toEqual({ messageId, domain })
  })

  it("refuse to parse ids it did not build", () => {
    expect(parseJobId("f1")).toBeUndefined()
    expect(parseJobId("a/b/c")).toBeUndefined()
    expect(parseJobId("/b")).toBeUndefined()
  })

  it("give a DSN about a literal recipient domain a colon-free, deterministic queue id and job id", () => {
    const dsn = dsnMessageIdFor("m1", "ndr", "[IPv6:2001:db8::1]", 3)
    expect(dsn).toBe("m1.ndr.[IPv6%3A2001%3Adb8%3A%3A1].3")
    expect(dsnMessageIdFor("m1", "ndr", "[IPv6:2001:db8::1]", 3)).toBe(dsn)
    expect(jobIdFor(dsn, "customer.example")).not.toContain(":")
  })
})

describe("recipient domains", () => {
  it("keep an address literal in one spelling whatever the case it arrived in", () => {
    expect(domainOf("a@[ipv6:2001:DB8::1]")).toBe("[IPv6:2001:db8::1]")
    expect(domainOf("a@[IPv6:2001:db8::1]")).toBe("[IPv6:2001:db8::1]")
    expect(domainOf("a@[127.0.0.1]")).toBe("[127.0.0.1]")
    expect(domainOf("a@Bank.Example.")).toBe("bank.example")
    expect([...groupByDomain(["a@[IPv6:2001:DB8::1]", "b@[ipv6:2001:db8::1]"]).keys()]).toEqual([
      "[IPv6:2001:db8::1]",
    ])
  })

  it("route an address literal by the fleet default, never as a partner or local domain", () => {
    // Partners whose patterns look like the literal's address parts.
    const policy = policySet([
      partner("numeric", ["127.0.0.1", "*.0.0.1", "*.0.1", "*.1"]),
      partner("v6", ["*.example"]),
    ])
    const lookup = makeLookup(policy, buildIndex(policy))
    for (const domain of ["[127.0.0.1]", "[IPv6:2001:db8::1]", "[IPv6:::ffff:127.0.0.1]"]) {
      const route = routeFor(lookup, domain)
      expect(route.local).toBe(false)
      expect(route.policy.partner).toBeUndefined()
      expect(route.policy.servers).toBeUndefined()
      expect(route.policy.tls.mode).toBe("opportunistic")
      expect(route.policy.domain).toBe(domain)
    }
  })
})
