/**
 * `kind: Connector`: what a valid file resolves to in the bundle, that a policy without connectors
 * compiles to the same policy set as before, file:line errors for typos, and the plan's view of a
 * connector added or widened. One rule broken per scenario lives in rule-scenarios.ts.
 */
import type { PolicySet } from "@mailconnect/policy"
import { beforeAll, describe, expect, it } from "vitest"
import { planDiff, renderPlanText } from "../src"
import { mintTestCertificates, type TestCertificates } from "./pki"
import { ACME_CONNECTOR } from "./rule-scenarios"
import { baseFiles, compile, edit, type Files, lines, withFiles } from "./scenario"

let certs: TestCertificates
beforeAll(async () => {
  certs = await mintTestCertificates()
})

const CERTIFIED = `apiVersion: mailconnect/v1
kind: Connector
name: lawfirm-cloud
description: the law firm's hosted mail servers, wherever they run
clientCertificate:
  ca: certs/ca.pem
  names: [MTA.Lawfirm.Example]
senderDomains: [lawfirm.example, "*.lawfirm.example"]
`

const withConnectors = (extra: Files = {}): Files =>
  withFiles(baseFiles(certs), { "connectors/acme.yaml": ACME_CONNECTOR, ...extra })

const policyOf = (files: Files): PolicySet => {
  const result = compile(files, certs)
  expect(lines(result)).toEqual([])
  return result.policy!
}

describe("kind: Connector", () => {
  it("resolves networks to canonical CIDR, domains to A-labels, the CA embedded, TLS required by default", () => {
    const policy = policyOf(
      withConnectors({
        "connectors/lawfirm-cloud.yaml": CERTIFIED,
        "connectors/acme.yaml": edit(
          { f: ACME_CONNECTOR },
          "f",
          "senderDomains: [acme.example]",
          "senderDomains: [ACME.example, acme.example]\nrequireTls: false",
        ).f!.replace('"2001:db8:25::/48"', '"2001:DB8:25:0::/48", 127.0.0.2'),
      }),
    )
    expect(policy.connectors?.acme).toEqual({
      name: "acme",
      networks: ["127.0.0.2/32", "192.0.2.0/24", "2001:db8:25::/48"],
      senderDomains: ["acme.example"],
      requireTls: false,
    })
    const cloud = policy.connectors?.["lawfirm-cloud"]
    expect(cloud).toMatchObject({
      networks: [],
      senderDomains: ["*.lawfirm.example", "lawfirm.example"],
      requireTls: true,
      clientCertificate: { trust: "pkix", names: ["mta.lawfirm.example"], pins: [] },
    })
    expect(cloud?.clientCertificate?.ca?.file).toBe("certs/ca.pem")
    expect(cloud?.clientCertificate?.ca?.pem).toContain("BEGIN CERTIFICATE")
  })

  it("leaves connectors out of a policy that has none (bundles stay byte-identical)", () => {
    expect(Object.keys(policyOf(baseFiles(certs)))).toEqual([
      "defaults",
      "partners",
      "localDomains",
      "groups",
    ])
  })

  it("names file, line and column of a typo and of a bad network, and compiles nothing", () => {
    const result = compile(
      withConnectors({
        "connectors/acme.yaml": ACME_CONNECTOR.replace("networks:", "network:"),
        "connectors/beta.yaml": ACME_CONNECTOR.replace("name: acme", "name: beta").replace(
          "192.0.2.0/24",
          "192.0.2.0/24/8",
        ),
      }),
      certs,
    )
    expect(lines(result)).toEqual([
      'connectors/acme.yaml:4:1: error UNKNOWN-KEY unknown key "network" (did you mean "networks"?)',
      'connectors/beta.yaml:4:12: error CONNECTOR-NETWORK-INVALID network "192.0.2.0/24/8" is not an IP network (the prefix is 0-32 for IPv4 and 0-128 for IPv6)',
    ])
    expect(result.policy).toBeUndefined()
  })

  it("takes a certificate-only connector under trust: pins, and networks with a certificate however wide", () => {
    const policy = policyOf(
      withConnectors({
        "connectors/acme.yaml": ACME_CONNECTOR.replace(
          "senderDomains:",
          `clientCertificate:\n  trust: pins\n  pins: [${certs.leaf.pin}]\nsenderDomains:`,
        ).replace("192.0.2.0/24", "0.0.0.0/0"),
      }),
    )
    expect(policy.connectors?.acme?.clientCertificate).toEqual({
      trust: "pins",
      names: [],
      pins: [certs.leaf.pin],
    })
    expect(policy.connectors?.acme?.requireTls).toBe(true)
  })
})

describe("plan: connectors", () => {
  it("lists a new connector and flags it, then flags each widening", () => {
    const none = policyOf(baseFiles(certs))
    const one = policyOf(withConnectors())
    const added = planDiff(none, one)
    expect(added.changes.map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual(["create connector acme"])
    expect(added.security.map((f) => `${f.code} ${f.message}`)).toEqual([
      "CONNECTOR-ADDED connector acme may relay for acme.example from 192.0.2.0/24, 2001:db8:25::/48 without a client certificate over TLS",
    ])
    expect(renderPlanText(added, "plan")).toContain("+ connector acme")

    const wider = policyOf(
      withConnectors({
        "connectors/acme.yaml": ACME_CONNECTOR.replace("192.0.2.0/24", "192.0.2.0/24, 198.51.100.7").replace(
          "senderDomains: [acme.example]",
          "senderDomains: [acme.example, shop.example]\nrequireTls: false",
        ),
      }),
    )
    expect(planDiff(one, wider).security.map((f) => `${f.code} ${f.message}`)).toEqual([
      "CONNECTOR-WIDENED networks added: 198.51.100.7/32",
      "CONNECTOR-WIDENED requireTls true → false",
      "CONNECTOR-WIDENED senderDomains added: shop.example",
    ])
    expect(planDiff(wider, one).security).toEqual([])
  })
})
