/**
 * tls.dane and tls.mtaSts: the words on/off in a partner file and in the defaults, quoted or
 * not and also under %YAML 1.1 (where the library reads unquoted on/off as booleans); anything
 * else refused at its position; written values resolved, absent ones left out.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { parseDocument } from "yaml"
import { mintTestCertificates, type TestCertificates } from "./pki"
import { baseFiles, compile, edit, type Files, lines, withFiles } from "./scenario"

let certs: TestCertificates
beforeAll(async () => {
  certs = await mintTestCertificates()
})

const shop = (tls: string, header = "") =>
  `${header}apiVersion: mailconnect/v1\nkind: Partner\nname: shop\ndomains: [shop.example]\ntls:\n  mode: opportunistic\n${tls}`

const withShop = (tls: string, header = ""): Files =>
  withFiles(baseFiles(certs), { "partners/shop.yaml": shop(tls, header) })

const withDefaults = (files: Files, tls: string): Files =>
  edit(files, "defaults.yaml", "  minVersion: TLSv1.2\n", `  minVersion: TLSv1.2\n${tls}`)

describe("tls.dane and tls.mtaSts", () => {
  it("are left out of the bundle where no file writes them", () => {
    const { policy } = compile(withShop(""), certs)
    expect(Object.keys(policy!.defaults.tls).sort()).toEqual(["minVersion", "mode"])
    for (const partner of Object.values(policy!.partners)) {
      expect(partner.tls).not.toHaveProperty("dane")
      expect(partner.tls).not.toHaveProperty("mtaSts")
    }
  })

  it.each([
    ["unquoted", "  dane: off\n  mtaSts: on\n"],
    ["quoted", "  dane: 'off'\n  mtaSts: \"on\"\n"],
  ])("accept on and off %s in a partner file", (_, tls) => {
    const result = compile(withShop(tls), certs)
    expect(lines(result)).toEqual([])
    expect(result.policy!.partners.shop!.tls).toMatchObject({ dane: "off", mtaSts: "on" })
  })

  it("accept unquoted on and off under %YAML 1.1, which the YAML library reads as booleans", () => {
    const text = shop("  dane: off\n  mtaSts: on\n", "%YAML 1.1\n---\n")
    expect(parseDocument(text).toJS().tls).toMatchObject({ dane: false, mtaSts: true })
    const result = compile(withFiles(baseFiles(certs), { "partners/shop.yaml": text }), certs)
    expect(lines(result)).toEqual([])
    expect(result.policy!.partners.shop!.tls).toMatchObject({ dane: "off", mtaSts: "on" })
  })

  it.each([
    ["unquoted", "  dane: off\n  mtaSts: off\n"],
    ["quoted", "  dane: 'off'\n  mtaSts: \"off\"\n"],
  ])("accept on and off %s in the defaults, folded into partners that do not write them", (_, tls) => {
    const files = withFiles(withDefaults(baseFiles(certs), tls), {
      "partners/shop.yaml": shop("  mtaSts: on\n"),
    })
    const result = compile(files, certs)
    expect(lines(result)).toEqual([])
    expect(result.policy!.defaults.tls).toMatchObject({ dane: "off", mtaSts: "off" })
    expect(result.policy!.partners.shop!.tls).toMatchObject({ dane: "off", mtaSts: "on" })
  })

  it("accept the defaults' switches under %YAML 1.1 too", () => {
    const files = withDefaults(baseFiles(certs), "  dane: on\n  mtaSts: off\n")
    const result = compile({ ...files, "defaults.yaml": `%YAML 1.1\n---\n${files["defaults.yaml"]}` }, certs)
    expect(lines(result)).toEqual([])
    expect(result.policy!.defaults.tls).toMatchObject({ dane: "on", mtaSts: "off" })
  })

  it.each([
    ["true", "true"],
    ["On", "On"],
    ["1", "1"],
    ['"yes"', '"yes"'],
    ["[off]", '["off"]'],
  ])("refuse %s as TLS-STANDARD-INVALID at the value, reported once", (written, shown) => {
    const result = compile(withShop(`  dane: ${written}\n`), certs)
    expect(lines(result)).toEqual([
      `partners/shop.yaml:7:9: error TLS-STANDARD-INVALID tls.dane: expected on or off, got ${shown} (write dane: on or dane: off, or leave it out to mean on; true, false, yes and no are not accepted)`,
    ])
    expect(result.policy).toBeUndefined()
  })

  it("refuse the other YAML 1.1 booleans, which the library reads as true or false as well", () => {
    const result = compile(withShop("  dane: no\n  mtaSts: Off\n", "%YAML 1.1\n---\n"), certs)
    expect(result.diagnostics.map((d) => [d.line, d.column, d.rule, d.message])).toEqual([
      [9, 9, "TLS-STANDARD-INVALID", "tls.dane: expected on or off, got no"],
      [10, 11, "TLS-STANDARD-INVALID", "tls.mtaSts: expected on or off, got Off"],
    ])
  })

  it("still report the file's other problems next to an invalid switch", () => {
    const result = compile(withShop("  dane: true\n  minVersion: TLSv9\n"), certs)
    expect(result.diagnostics.map((d) => d.rule)).toEqual(["TLS-STANDARD-INVALID", "INVALID-VALUE"])
  })

  it("warn on an enforce/mtls partner, also when the mode comes from the defaults, never on the defaults", () => {
    const court = edit(
      baseFiles(certs),
      "partners/court.yaml",
      "  mode: mtls\n",
      "  mode: mtls\n  mtaSts: off\n",
    )
    expect(lines(compile(court, certs))).toEqual([
      'partners/court.yaml:15:3: warning STANDARDS-IGNORED-ENFORCED partner "court" uses mtls: tls.mtaSts has no effect (its own tls.verify always wins; DANE and MTA-STS are not consulted for it) (remove tls.mtaSts: the DANE and MTA-STS switches apply only to opportunistic partners and to the defaults)',
    ])
    const inherited = withFiles(
      edit(
        withDefaults(baseFiles(certs), "  dane: off\n"),
        "defaults.yaml",
        "mode: opportunistic",
        "mode: enforce",
      ),
      {
        "partners/insurer.yaml":
          'apiVersion: mailconnect/v1\nkind: Partner\nname: insurer\nagreement:\n  reference: AGR-9\n  signedOn: "2026-01-01"\n  confirmedBy: Customer operations, ticket OPS-1\n  confirmedOn: "2026-01-01"\n  technicalContacts: [{ name: Ops, email: ops@insurer.example }]\ndomains: [insurer.example]\nroute:\n  servers: [mx.insurer.example]\ntls:\n  dane: on\n',
      },
    )
    expect(compile(inherited, certs).diagnostics.map((d) => `${d.file} ${d.rule}`)).toEqual([
      "partners/insurer.yaml STANDARDS-IGNORED-ENFORCED",
    ])
  })
})
