import { beforeAll, describe, expect, it } from "vitest"
import { RULE_CODES, RULES } from "../src"
import { expectGolden } from "./golden"
import { mintTestCertificates, type TestCertificates } from "./pki"
import { RULE_SCENARIOS } from "./rule-scenarios"
import { baseFiles, compile, lines } from "./scenario"

let certs: TestCertificates
beforeAll(async () => {
  certs = await mintTestCertificates()
})

/** Pins of freshly minted keys differ per run; goldens show placeholders. */
const stable = (text: string): string =>
  text.replaceAll(certs.leaf.pin, "<LEAF-PIN>").replaceAll(certs.leaf.pin.slice(7), "<LEAF-PIN-BASE64>")

describe("policy rules", () => {
  it("accepts the base scenario without any diagnostic", () => {
    const result = compile(baseFiles(certs), certs)
    expect(lines(result)).toEqual([])
    expect(result.policy).toBeDefined()
  })

  it("has a scenario for every rule code", () => {
    const covered = new Set(RULE_SCENARIOS.map((s) => s.rule))
    expect(RULE_CODES.filter((code) => !covered.has(code))).toEqual([])
  })

  for (const [i, scenario] of RULE_SCENARIOS.entries()) {
    it(`${scenario.rule}: ${scenario.name}`, () => {
      const result = compile(scenario.files(baseFiles(certs), certs), certs, {
        ...(scenario.strict === undefined ? {} : { strict: scenario.strict }),
      })
      const output = lines(result)
      expect(output.some((line) => line.includes(` ${scenario.rule} `))).toBe(true)
      // Every reported diagnostic carries the severity its rule is catalogued with.
      for (const d of result.diagnostics) expect(d.severity).toBe(RULES[d.rule].severity)
      if (RULES[scenario.rule].severity === "error") expect(result.policy).toBeUndefined()
      expectGolden(
        `rules/${String(i).padStart(2, "0")}-${scenario.rule}.golden.txt`,
        stable(`${output.join("\n")}\n`),
      )
    })
  }
})

describe("warnings and --strict", () => {
  const overdue = (files: Record<string, string>) => ({
    ...files,
    "partners/bank.yaml": files["partners/bank.yaml"]!.replace(
      'attestedOn: "2026-06-01"',
      'attestedOn: "2025-05-01"',
    ),
  })

  it("compiles with warnings alone", () => {
    const result = compile(overdue(baseFiles(certs)), certs)
    expect(result.diagnostics.map((d) => d.severity)).toEqual(["warning"])
    expect(result.policy).toBeDefined()
  })

  it("turns warnings into errors when strict", () => {
    const result = compile(overdue(baseFiles(certs)), certs, { strict: true })
    expect(lines(result)[0]).toContain(": error REVIEW-OVERDUE ")
    expect(result.policy).toBeUndefined()
  })

  it("reports a review as overdue only after its due date", () => {
    const files = baseFiles(certs)
    expect(lines(compile(files, certs, { now: new Date("2027-06-01T23:59:59Z") }))).toEqual([])
    expect(lines(compile(files, certs, { now: new Date("2027-06-02T00:00:00Z") }))[0]).toContain(
      "REVIEW-OVERDUE",
    )
  })

  it("accepts legacy TLS with an acknowledgement in the agreement", () => {
    const files = baseFiles(certs)
    const bank = files["partners/bank.yaml"]!.replace("minVersion: TLSv1.2", "minVersion: TLSv1.1").replace(
      '  signedOn: "2026-06-15"\n',
      '  signedOn: "2026-06-15"\n  legacyTls:\n    reason: contract annex 3 (TLS 1.1 until 2027)\n',
    )
    const result = compile({ ...files, "partners/bank.yaml": bank }, certs)
    expect(lines(result)).toEqual([])
    expect(result.policy?.partners.bank?.tls.minVersion).toBe("TLSv1.1")
  })

  it("accepts an overlap the more specific partner declares with overrides", () => {
    const files = {
      ...baseFiles(certs),
      "partners/eubank.yaml":
        "apiVersion: mailconnect/v1\nkind: Partner\nname: eubank\ndomains: [eu.bank.example, '*.eu.bank.example']\noverrides: [bank]\n",
    }
    const result = compile(files, certs)
    expect(lines(result)).toEqual([])
    expect(result.index?.exact["eu.bank.example"]).toBe("eubank")
    expect(result.index?.wildcard["eu.bank.example"]).toBe("eubank")
    expect(result.index?.wildcard["bank.example"]).toBe("bank")
  })
})
