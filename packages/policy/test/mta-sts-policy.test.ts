import { describe, expect, it } from "vitest"
import {
  type LocalDomain,
  mtaStsPolicyForHost,
  mtaStsPolicyId,
  mtaStsTxtValue,
  type PublishedMtaSts,
  policyDomainOfHost,
  renderMtaStsPolicy,
} from "../src"

const POLICY: PublishedMtaSts = {
  mode: "enforce",
  maxAge: 604_800,
  mx: ["mx1.relay.example", "*.relay.example"],
}

const local = (domain: string, mtaSts?: PublishedMtaSts): LocalDomain => ({
  domain,
  deliverTo: { host: `mailbox.${domain}`, port: 25 },
  groups: [],
  ...(mtaSts ? { mtaSts } : {}),
})

describe("published MTA-STS policy", () => {
  it("renders RFC 8461 §3.2 text with CRLF line endings", () => {
    expect(renderMtaStsPolicy(POLICY)).toBe(
      "version: STSv1\r\nmode: enforce\r\nmx: mx1.relay.example\r\nmx: *.relay.example\r\nmax_age: 604800\r\n",
    )
  })

  it("derives a 16-hex id that changes exactly when the policy does", () => {
    const id = mtaStsPolicyId(POLICY)
    expect(id).toMatch(/^[0-9a-f]{16}$/)
    expect(mtaStsPolicyId({ ...POLICY, mx: [...POLICY.mx] })).toBe(id)
    expect(mtaStsPolicyId({ ...POLICY, mode: "testing" })).not.toBe(id)
    expect(mtaStsPolicyId({ ...POLICY, maxAge: 604_801 })).not.toBe(id)
    expect(mtaStsPolicyId({ ...POLICY, mx: ["mx1.relay.example"] })).not.toBe(id)
    expect(mtaStsTxtValue(POLICY)).toBe(`v=STSv1; id=${id}`)
  })

  it("normalises the Host header: case, port, trailing dot", () => {
    expect(policyDomainOfHost("MTA-STS.Acme.Example.:8443")).toBe("acme.example")
    expect(policyDomainOfHost("mta-sts.acme.example")).toBe("acme.example")
    expect(policyDomainOfHost("acme.example")).toBeUndefined()
    expect(policyDomainOfHost("mta-sts.")).toBeUndefined()
    expect(policyDomainOfHost(undefined)).toBeUndefined()
  })

  it("finds only the named local domain's policy", () => {
    const domains = {
      "acme.example": local("acme.example", POLICY),
      "lawfirm.example": local("lawfirm.example"),
    }
    expect(mtaStsPolicyForHost(domains, "mta-sts.acme.example")).toEqual(POLICY)
    expect(mtaStsPolicyForHost(domains, "mta-sts.lawfirm.example")).toBeUndefined()
    expect(mtaStsPolicyForHost(domains, "mta-sts.other.example")).toBeUndefined()
    expect(mtaStsPolicyForHost(domains, "mta-sts.constructor")).toBeUndefined()
    expect(mtaStsPolicyForHost(domains, "mta-sts.sub.acme.example")).toBeUndefined()
  })
})
