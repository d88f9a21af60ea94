/**
 * The plan for tls.dane and tls.mtaSts: a change shows as a field of the partner or defaults
 * TLS; switching one off is a security-relevant change where the relay would consult it
 * (opportunistic TLS by DNS MX), switching it on is not.
 */
import type { PolicySet } from "@mailconnect/policy"
import { beforeAll, describe, expect, it } from "vitest"
import { planDiff, renderPlanText } from "../src"
import { mintTestCertificates, type TestCertificates } from "./pki"
import { baseFiles, compile, edit, type Files, lines, withFiles } from "./scenario"

let certs: TestCertificates
beforeAll(async () => {
  certs = await mintTestCertificates()
})

const shop = (tls = "") =>
  `apiVersion: mailconnect/v1\nkind: Partner\nname: shop\ndomains: [shop.example]\ntls:\n  mode: opportunistic\n${tls}`

const policyOf = (files: Files): PolicySet => {
  const result = compile(files, certs)
  expect(lines(result).filter((l) => l.includes(": error "))).toEqual([])
  return result.policy!
}

const withShop = (tls = ""): Files => withFiles(baseFiles(certs), { "partners/shop.yaml": shop(tls) })

const withDefaults = (files: Files, tls: string): Files =>
  edit(files, "defaults.yaml", "  minVersion: TLSv1.2\n", `  minVersion: TLSv1.2\n${tls}`)

const flags = (base: Files, head: Files) =>
  planDiff(policyOf(base), policyOf(head)).security.map((f) => `${f.code} ${f.name}: ${f.message}`)

const fieldsOf = (base: Files, head: Files, name: string) =>
  planDiff(policyOf(base), policyOf(head)).changes.find((c) => c.name === name)?.fields

describe("plan: tls.dane and tls.mtaSts", () => {
  it("shows a partner's switch turned off as a change of its TLS and flags it", () => {
    const base = withShop("  dane: on\n")
    const head = withShop("  dane: off\n  mtaSts: off\n")
    expect(fieldsOf(base, head, "shop")).toEqual([
      { path: "tls.dane", before: "on", after: "off" },
      { path: "tls.mtaSts", after: "off" },
    ])
    expect(flags(base, head)).toEqual([
      "DANE-DISABLED shop: tls.dane on → off: MX hosts with validated TLSA records (RFC 7672) are no longer authenticated",
      "MTA-STS-DISABLED shop: tls.mtaSts on (default) → off: MTA-STS enforce policies (RFC 8461) are no longer applied",
    ])
    expect(renderPlanText(planDiff(policyOf(base), policyOf(head)))).toContain(
      '      ~ tls.dane: "on" → "off"\n      + tls.mtaSts = "off"\n',
    )
  })

  it("flags the defaults turned off, and each opportunistic partner that inherits it", () => {
    const base = withShop()
    const head = withDefaults(withShop(), "  mtaSts: off\n")
    expect(fieldsOf(base, head, "defaults")).toEqual([{ path: "tls.mtaSts", after: "off" }])
    // Folded into every partner; only where the relay consults it is it a weakening.
    expect(fieldsOf(base, head, "bank")).toEqual([{ path: "tls.mtaSts", after: "off" }])
    expect(flags(base, head).map((f) => f.split(":")[0])).toEqual([
      "MTA-STS-DISABLED defaults",
      "MTA-STS-DISABLED shop",
    ])
  })

  it("does not flag switching on, in a partner or in the defaults", () => {
    const off = withDefaults(withShop("  dane: off\n"), "  dane: off\n  mtaSts: off\n")
    for (const on of [withShop(), withDefaults(withShop("  dane: on\n"), "  dane: on\n  mtaSts: on\n")]) {
      const plan = planDiff(policyOf(off), policyOf(on))
      expect(plan.changes.map((c) => c.name)).toContain("defaults")
      expect(plan.changes.map((c) => c.name)).toContain("shop")
      expect(plan.security).toEqual([])
    }
  })

  it("does not flag a switch the relay does not consult: enforce/mtls or explicit route servers", () => {
    const bank = (tls: string) =>
      edit(baseFiles(certs), "partners/bank.yaml", "  minVersion: TLSv1.2\n", `  minVersion: TLSv1.2\n${tls}`)
    expect(fieldsOf(bank(""), bank("  dane: off\n"), "bank")).toEqual([{ path: "tls.dane", after: "off" }])
    expect(flags(bank(""), bank("  dane: off\n"))).toEqual([])
    const routed = (tls: string) =>
      withFiles(baseFiles(certs), {
        "partners/shop.yaml": `${shop(tls)}route:\n  servers: [mx.shop.example]\n`,
      })
    expect(flags(routed(""), routed("  dane: off\n"))).toEqual([])
  })

  it("flags a switch turned off together with a mode downgrade to opportunistic", () => {
    const agreed = (tls: string) =>
      withFiles(baseFiles(certs), {
        "partners/shop.yaml": `apiVersion: mailconnect/v1\nkind: Partner\nname: shop\nagreement:\n  reference: AGR-9\n  signedOn: "2026-01-01"\n  confirmedBy: Customer operations, ticket OPS-1\n  confirmedOn: "2026-01-01"\n  technicalContacts: [{ name: Ops, email: ops@shop.example }]\ndomains: [shop.example]\ntls:\n${tls}`,
      })
    expect(flags(agreed("  mode: enforce\n"), agreed("  mode: opportunistic\n  dane: off\n"))).toEqual([
      "DANE-DISABLED shop: tls.dane on (default) → off: MX hosts with validated TLSA records (RFC 7672) are no longer authenticated",
      "INBOUND-RELAXED shop: inbound.requireTls true → false",
      "MODE-DOWNGRADED shop: tls.mode enforce → opportunistic",
    ])
  })
})
