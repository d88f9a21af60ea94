/**
 * How the TLS settings of a partner file resolve into the bundle: inbound.verify (always filled
 * in), a client certificate under enforce, legacy TLS without cipher strings, and which verify
 * settings warn because the relay will not apply them as written.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { mintTestCertificates, type TestCertificates } from "./pki"
import { appendTo, baseFiles, compile, edit, lines, withFiles } from "./scenario"

let certs: TestCertificates
beforeAll(async () => {
  certs = await mintTestCertificates()
})

const rules = (result: ReturnType<typeof compile>) => result.diagnostics.map((d) => d.rule)

describe("inbound.verify", () => {
  it("defaults to a copy of the resolved tls.verify", () => {
    const { policy } = compile(baseFiles(certs), certs)
    const bank = policy!.partners.bank!
    expect(bank.inbound.verify).toEqual(bank.tls.verify)
    expect(bank.inbound.verify?.ca?.file).toBe("certs/ca.pem")
    expect(policy!.partners.court!.inbound.verify).toEqual({
      trust: "pkix",
      names: ["mx.court.example"],
      pins: [],
    })
  })

  it("takes the partner's own block for its sending servers, with its CA, certificate and pins", () => {
    const files = appendTo(
      baseFiles(certs),
      "partners/court.yaml",
      `inbound:\n  verify:\n    names: [out.court.example]\n    ca: certs/ca.pem\n    certificate: certs/leaf.pem\n    pins: [${certs.leaf.pin}]\n`,
    )
    const result = compile(files, certs)
    expect(lines(result)).toEqual([])
    const court = result.policy!.partners.court!
    expect(court.inbound).toMatchObject({ requireTls: true, requireClientCertificate: true })
    expect(court.inbound.verify).toMatchObject({
      trust: "pkix",
      names: ["out.court.example"],
      pins: [certs.leaf.pin],
      ca: { file: "certs/ca.pem", pem: certs.ca.pem },
      certificate: { file: "certs/leaf.pem" },
    })
    // The outbound side is untouched.
    expect(court.tls.verify).toEqual({ trust: "pkix", names: ["mx.court.example"], pins: [] })
  })

  it("accepts pins-only trust inbound for a partner's self-signed client certificate", () => {
    const files = appendTo(
      baseFiles(certs),
      "partners/court.yaml",
      `inbound:\n  verify:\n    trust: pins\n    pins: [${certs.leaf.pin}]\n`,
    )
    const result = compile(files, certs)
    expect(lines(result)).toEqual([])
    expect(result.policy!.partners.court!.inbound.verify).toEqual({
      trust: "pins",
      names: [],
      pins: [certs.leaf.pin],
    })
  })

  it("warns when the inbound certificate on file matches none of the inbound pins", () => {
    const files = appendTo(
      baseFiles(certs),
      "partners/court.yaml",
      `inbound:\n  verify:\n    certificate: certs/leaf.pem\n    pins: [${certs.ca.pin}]\n`,
    )
    expect(lines(compile(files, certs))).toEqual([
      `partners/court.yaml:21:11: warning PIN-CERTIFICATE-MISMATCH no pin matches the certificate in certs/leaf.pem (its pin is ${certs.leaf.pin}) (add that pin if the partner rotated its key, or update the certificate file)`,
    ])
  })
})

describe("client certificate", () => {
  it("is accepted under enforce (presented when the server asks) and resolved into the bundle", () => {
    const files = edit(
      baseFiles(certs),
      "partners/bank.yaml",
      "  mode: enforce\n",
      "  mode: enforce\n  clientCertificate: relay-client\n",
    )
    const result = compile(files, certs)
    expect(lines(result)).toEqual([])
    const bank = result.policy!.partners.bank!
    expect(bank.tls).toMatchObject({ mode: "enforce", clientCertificate: "relay-client" })
    // Presenting a certificate does not make the partner's inbound side mutual.
    expect(bank.inbound).toMatchObject({ requireTls: true, requireClientCertificate: false })
  })

  it("is still required under mtls", () => {
    const files = edit(baseFiles(certs), "partners/court.yaml", "  clientCertificate: relay-client\n", "")
    expect(rules(compile(files, certs))).toEqual(["MTLS-CLIENT-CERT-MISSING"])
  })
})

describe("legacy TLS", () => {
  const legacy = (minVersion: string, extra = "") =>
    edit(
      edit(
        baseFiles(certs),
        "partners/bank.yaml",
        "  minVersion: TLSv1.2\n",
        `  minVersion: ${minVersion}\n${extra}`,
      ),
      "partners/bank.yaml",
      '  signedOn: "2026-06-15"\n',
      '  signedOn: "2026-06-15"\n  legacyTls:\n    reason: contract annex 3 (TLS 1.1 until 2027)\n',
    )

  for (const version of ["TLSv1.1", "TLSv1"])
    it(`compiles ${version} with an acknowledgement and no cipher string`, () => {
      const result = compile(legacy(version), certs)
      expect(lines(result)).toEqual([])
      const tls = result.policy!.partners.bank!.tls
      expect(tls.minVersion).toBe(version)
      expect(tls.ciphers).toBeUndefined()
      expect(result.policy!.partners.bank!.agreement?.legacyTls?.reason).toBe(
        "contract annex 3 (TLS 1.1 until 2027)",
      )
    })

  it("accepts a cipher string without @SECLEVEL silently", () => {
    const result = compile(legacy("TLSv1.1", "  ciphers: HIGH:!aNULL\n"), certs)
    expect(lines(result)).toEqual([])
    expect(result.policy!.partners.bank!.tls.ciphers).toBe("HIGH:!aNULL")
  })

  it("warns about @SECLEVEL in a partner's or the fleet's cipher string, still compiling", () => {
    const files = edit(
      legacy("TLSv1.1", "  ciphers: DEFAULT:@seclevel=1\n"),
      "defaults.yaml",
      "  minVersion: TLSv1.2\n",
      "  minVersion: TLSv1.2\n  ciphers: HIGH@SECLEVEL=2\n",
    )
    const result = compile(files, certs)
    expect(rules(result)).toEqual(["CIPHERS-SECLEVEL", "CIPHERS-SECLEVEL"])
    expect(result.diagnostics.map((d) => d.file)).toEqual(["defaults.yaml", "partners/bank.yaml"])
    expect(result.policy).toBeDefined()
    expect(compile(files, certs, { strict: true }).policy).toBeUndefined()
  })
})

describe("names from unauthenticated DNS", () => {
  const withoutCourtNames = () =>
    edit(baseFiles(certs), "partners/court.yaml", "  verify:\n    names: [mx.court.example]\n", "")

  it("warns for enforce/mtls by DNS MX without names, also when the mode is inherited", () => {
    const files = edit(
      edit(withoutCourtNames(), "defaults.yaml", "mode: opportunistic", "mode: enforce"),
      "partners/court.yaml",
      "tls:\n  mode: mtls\n  clientCertificate: relay-client\n",
      "",
    )
    // court now inherits enforce from the defaults and has no tls block at all.
    expect(lines(compile(files, certs)).filter((l) => l.includes("ENFORCE-MX-NAMES-DEFAULT"))).toEqual([
      expect.stringMatching(
        /^partners\/court\.yaml:3:7: warning ENFORCE-MX-NAMES-DEFAULT partner "court" uses enforce/,
      ),
    ])
  })

  it("does not warn with explicit route servers, pins-only trust, or opportunistic mode", () => {
    const routed = edit(
      withoutCourtNames(),
      "partners/court.yaml",
      "domains: [court.example]\n",
      "domains: [court.example]\nroute:\n  servers: [mx.court.example]\n",
    )
    const pinned = edit(
      withoutCourtNames(),
      "partners/court.yaml",
      "  clientCertificate: relay-client\n",
      `  clientCertificate: relay-client\n  verify:\n    trust: pins\n    pins: [${certs.leaf.pin}]\n`,
    )
    const opportunistic = edit(
      edit(
        withoutCourtNames(),
        "partners/court.yaml",
        "  mode: mtls\n  clientCertificate: relay-client\n",
        "  mode: opportunistic\n",
      ),
      "groups/justice.yaml",
      "members: [court, notary]",
      "members: [notary]",
    )
    for (const files of [routed, pinned, opportunistic]) expect(lines(compile(files, certs))).toEqual([])
  })
})

describe("verify settings of an opportunistic partner", () => {
  const shop = (tls: string, inbound = "") =>
    withFiles(baseFiles(certs), {
      "partners/shop.yaml": `apiVersion: mailconnect/v1\nkind: Partner\nname: shop\ndomains: [shop.example]\ntls:\n  mode: opportunistic\n${tls}${inbound}`,
    })

  it("warns that names are not enforced either", () => {
    expect(rules(compile(shop("  verify:\n    names: [mx.shop.example]\n"), certs))).toEqual([
      "VERIFY-IGNORED-OPPORTUNISTIC",
    ])
  })

  it("does not warn when tls.verify authenticates the partner's client certificates inbound", () => {
    const files = shop("  verify:\n    ca: certs/ca.pem\n", "inbound:\n  requireClientCertificate: true\n")
    expect(lines(compile(files, certs))).toEqual([])
  })

  it("warns again once inbound.verify takes over the inbound side", () => {
    const files = shop(
      "  verify:\n    ca: certs/ca.pem\n",
      "inbound:\n  requireClientCertificate: true\n  verify:\n    ca: certs/ca.pem\n",
    )
    expect(rules(compile(files, certs))).toEqual(["VERIFY-IGNORED-OPPORTUNISTIC"])
  })
})
