/**
 * Domains written in Unicode, A-labels, full width or upper case are stored and indexed as one
 * A-label spelling everywhere in the bundle (DESIGN §3), so a look-alike spelling can neither
 * slip past DOMAIN-CONFLICT nor miss the partner at lookup.
 */
import { makeLookup } from "@mailconnect/policy"
import { beforeAll, describe, expect, it } from "vitest"
import { mintTestCertificates, type TestCertificates } from "./pki"
import { baseFiles, compile, edit, type Files, lines, withFiles } from "./scenario"

let certs: TestCertificates
beforeAll(async () => {
  certs = await mintTestCertificates()
})

const MUELLER = "xn--mller-bank-9db.de"

/** The base scenario plus an enforce partner whose domains, route and names are written as given. */
const withMueller = (
  base: Files,
  spelling: { domains: string; server?: string; names?: string; inboundNames?: string },
): Files =>
  withFiles(base, {
    "partners/mueller.yaml": `apiVersion: mailconnect/v1
kind: Partner
name: mueller
agreement:
  reference: AGR-9
  signedOn: "2026-10-01"
  confirmedBy: Customer operations, ticket OPS-1
  confirmedOn: "2026-10-01"
  technicalContacts:
    - name: Müller Bank IT
      email: it@xn--mller-bank-9db.de
domains: ${spelling.domains}
route:
  servers: [${spelling.server ?? "mx.xn--mller-bank-9db.de"}]
tls:
  mode: enforce
  verify:
    names: [${spelling.names ?? "mx.xn--mller-bank-9db.de"}]
${spelling.inboundNames ? `inbound:\n  verify:\n    names: [${spelling.inboundNames}]\n` : ""}`,
  })

describe("domain spellings", () => {
  const spellings: ReadonlyArray<[string, string]> = [
    ["Unicode", "müller-bank.de"],
    ["A-labels", MUELLER],
    ["upper case with a trailing dot", "MÜLLER-BANK.DE."],
    ["full-width letters and an ideographic full stop", "ｍüｌｌｅｒ-ｂａｎｋ。ｄｅ"],
  ]
  for (const [what, written] of spellings)
    it(`stores and indexes ${what} (${written}) as ${MUELLER}`, () => {
      const result = compile(
        withMueller(baseFiles(certs), { domains: `["${written}", "*.${written}"]` }),
        certs,
      )
      expect(lines(result)).toEqual([])
      expect(result.policy!.partners.mueller!.domains).toEqual([`*.${MUELLER}`, MUELLER])
      expect(result.index!.exact[MUELLER]).toBe("mueller")
      expect(result.index!.wildcard[MUELLER]).toBe("mueller")
      const lookup = makeLookup(result.policy!, result.index!)
      expect(lookup.partnerFor(`filiale.${MUELLER}`)?.name).toBe("mueller")
    })

  it("converts route servers and verify names, outbound and inbound", () => {
    const result = compile(
      withMueller(baseFiles(certs), {
        domains: "[müller-bank.de]",
        server: "ＭＸ.müller-bank.de:2525",
        names: '"*.müller-bank.de", mx.MÜLLER-bank.de',
        inboundNames: "out.müller-bank.de",
      }),
      certs,
    )
    expect(lines(result)).toEqual([])
    const mueller = result.policy!.partners.mueller!
    expect(mueller.servers).toEqual([{ host: `mx.${MUELLER}`, port: 2525 }])
    expect(mueller.tls.verify.names).toEqual([`*.${MUELLER}`, `mx.${MUELLER}`])
    expect(mueller.inbound.verify?.names).toEqual([`out.${MUELLER}`])
  })

  it("converts local domains, their next hops and closed-group local domains", () => {
    const files = edit(
      edit(
        baseFiles(certs),
        "local.yaml",
        "  - domain: lawfirm.example\n    deliverTo: mailbox.lawfirm.example",
        "  - domain: kanzlei-müller.example\n    deliverTo: postfach.kanzlei-müller.example",
      ),
      "groups/justice.yaml",
      "localDomains: [lawfirm.example]",
      "localDomains: [ＫＡＮＺＬＥＩ-müller.example]",
    )
    const result = compile(files, certs)
    expect(lines(result)).toEqual([])
    const local = "xn--kanzlei-mller-4ob.example"
    expect(result.policy!.localDomains[local]).toEqual({
      domain: local,
      deliverTo: { host: `postfach.${local}`, port: 25 },
      groups: ["justice"],
    })
    expect(result.policy!.groups.justice!.localDomains).toEqual([local])
  })

  it("catches two spellings of one domain in two partners as DOMAIN-CONFLICT", () => {
    const files = withFiles(withMueller(baseFiles(certs), { domains: "[müller-bank.de]" }), {
      "partners/mimic.yaml":
        "apiVersion: mailconnect/v1\nkind: Partner\nname: mimic\ndomains: [xn--mller-bank-9db.de, ｍüｌｌｅｒ-ｂａｎｋ.de]\n",
    })
    const result = compile(files, certs)
    expect(result.policy).toBeUndefined()
    // mimic sorts first and claims the domain (its own two spellings are one claim); mueller conflicts.
    expect(lines(result)).toEqual([
      `partners/mueller.yaml:12:11: error DOMAIN-CONFLICT ${MUELLER} (written müller-bank.de) is already claimed by partner "mimic" (partners/mimic.yaml) (a domain belongs to exactly one partner: remove it from one of them)`,
    ])
  })

  it("refuses a look-alike wildcard and a local domain claimed in another spelling", () => {
    const files = edit(
      baseFiles(certs),
      "partners/court.yaml",
      "domains: [court.example]",
      "domains: [court.example, ＡＣＭＥ.example]",
    )
    expect(lines(compile(files, certs))[0]).toMatch(
      /^partners\/court\.yaml:12:26: error LOCAL-DOMAIN-CLAIMED acme\.example is one of our local domains/,
    )
  })

  it("reports a route server whose name does not convert as ROUTE-SERVER-INVALID", () => {
    const result = compile(
      withMueller(baseFiles(certs), { domains: "[müller-bank.de]", server: "mx..müller.de" }),
      certs,
    )
    expect(lines(result).map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual([
      "partners/mueller.yaml:14:13: error ROUTE-SERVER-INVALID",
    ])
  })

  it("reads 0x7f.1 as a typo, not as the address 127.0.0.1", () => {
    const result = compile(
      withMueller(baseFiles(certs), { domains: "[müller-bank.de]", server: "0x7f.1" }),
      certs,
    )
    expect(lines(result)[0]).toContain("error ROUTE-SERVER-INVALID")
  })

  it("refuses a domain that URL parsing would read as an IPv4 address", () => {
    const result = compile(withMueller(baseFiles(certs), { domains: "[0x7f.1, bank.1]" }), certs)
    expect(lines(result).map((l) => l.replace(/ \(.*$/, ""))).toEqual([
      'partners/mueller.yaml:12:11: error DOMAIN-INVALID "0x7f.1" ends in a numeric label',
      'partners/mueller.yaml:12:19: error DOMAIN-INVALID "bank.1" is not a valid domain name after UTS-46 processing',
    ])
  })
})
