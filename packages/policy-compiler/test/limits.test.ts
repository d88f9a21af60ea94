/**
 * `limits` in a partner file and in the Defaults: resolved per field (the partner's own over the
 * Defaults'), left out of the bundle where no file writes one, and a value that is not a number
 * refused at its position before LIMIT-INVALID (covered by its rule scenario) is even consulted.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { mintTestCertificates, type TestCertificates } from "./pki"
import { appendTo, baseFiles, compile, lines } from "./scenario"

let certs: TestCertificates
beforeAll(async () => {
  certs = await mintTestCertificates()
})

describe("limits", () => {
  it("are left out of every partner where no file writes them", () => {
    const { policy } = compile(baseFiles(certs), certs)
    for (const partner of Object.values(policy!.partners)) expect(partner).not.toHaveProperty("limits")
  })

  it("resolve a partner's own limits as written", () => {
    const files = appendTo(
      baseFiles(certs),
      "partners/bank.yaml",
      "limits:\n  messagesPerMinute: 60\n  connections: 2\n",
    )
    const result = compile(files, certs)
    expect(lines(result)).toEqual([])
    expect(result.policy!.partners.bank!.limits).toEqual({ messagesPerMinute: 60, connections: 2 })
    expect(result.policy!.partners.court).not.toHaveProperty("limits")
  })

  it("fold the Defaults' limits into every partner, field by field under its own", () => {
    const files = appendTo(
      appendTo(baseFiles(certs), "defaults.yaml", "limits:\n  messagesPerMinute: 600\n  connections: 10\n"),
      "partners/bank.yaml",
      "limits:\n  connections: 2\n",
    )
    const result = compile(files, certs)
    expect(lines(result)).toEqual([])
    expect(result.policy!.partners.bank!.limits).toEqual({ messagesPerMinute: 600, connections: 2 })
    expect(result.policy!.partners.court!.limits).toEqual({ messagesPerMinute: 600, connections: 10 })
  })

  it("refuse a rate written as text at its line, with the schema's reason", () => {
    const files = appendTo(baseFiles(certs), "partners/bank.yaml", "limits:\n  messagesPerMinute: 60/min\n")
    const result = compile(files, certs)
    expect(result.policy).toBeUndefined()
    expect(lines(result)).toEqual([
      expect.stringMatching(/^partners\/bank\.yaml:\d+:\d+: error INVALID-VALUE .*number/),
    ])
  })
})
