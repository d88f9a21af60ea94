import { createHash, X509Certificate } from "node:crypto"
import { describe, expect, it } from "vitest"
import { createRootCa } from "../../../tools/test-pki/src/index"
import { certificatesFromPem, spkiPin, subjectAltNames } from "../src"

describe("x509 helpers", () => {
  it("pins the DER SubjectPublicKeyInfo, and reads bundles and names", async () => {
    const root = await createRootCa()
    const leaf = await root.issueServer({ names: ["mx.partner.test", "127.0.0.1"] })
    const cert = new X509Certificate(leaf.certPem)
    const expected = createHash("sha256")
      .update(cert.publicKey.export({ type: "spki", format: "der" }))
      .digest("base64")
    expect(spkiPin(cert)).toBe(`sha256/${expected}`)
    expect(spkiPin(cert)).toBe(leaf.pin)
    const bundle = certificatesFromPem(`# comment\n${leaf.certPem}\n${root.certPem}`)
    expect(bundle.map((c) => c.subject)).toEqual([cert.subject, new X509Certificate(root.certPem).subject])
    expect(subjectAltNames(cert)).toEqual(["mx.partner.test", "127.0.0.1"])
    expect(certificatesFromPem("no certificate here")).toEqual([])
  })
})
