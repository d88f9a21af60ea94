import { mtaStsPolicyId } from "@mailconnect/policy"
import { beforeAll, describe, expect, it } from "vitest"
import { mintTestCertificates, type TestCertificates } from "./pki"
import { baseFiles, compile, edit, type Files, lines } from "./scenario"

let certs: TestCertificates
beforeAll(async () => {
  certs = await mintTestCertificates()
})

const withMtaSts = (files: Files, body: string): Files =>
  edit(
    files,
    "local.yaml",
    "    deliverTo: mailbox.acme.example:25\n",
    `    deliverTo: mailbox.acme.example:25\n${body}`,
  )

const ENFORCE =
  "    mtaSts:\n      mode: enforce\n      maxAge: 7d\n      mx: [MX1.Relay.Example., '*.relay.example']\n"

describe("published MTA-STS (local domains)", () => {
  it("resolves mtaSts as written: seconds, A-label mx patterns in order", () => {
    const result = compile(withMtaSts(baseFiles(certs), ENFORCE), certs)
    expect(lines(result)).toEqual([])
    expect(result.policy?.localDomains["acme.example"]?.mtaSts).toEqual({
      mode: "enforce",
      maxAge: 604_800,
      mx: ["mx1.relay.example", "*.relay.example"],
    })
    expect(result.policy?.localDomains["lawfirm.example"]).not.toHaveProperty("mtaSts")
  })

  it("leaves local domains without mtaSts exactly as before", () => {
    const policy = compile(baseFiles(certs), certs).policy
    expect(Object.values(policy?.localDomains ?? {}).some((d) => "mtaSts" in d)).toBe(false)
  })

  it("accepts mode none without mx", () => {
    const result = compile(
      withMtaSts(baseFiles(certs), "    mtaSts:\n      mode: none\n      maxAge: 1d\n"),
      certs,
    )
    expect(lines(result)).toEqual([])
    expect(result.policy?.localDomains["acme.example"]?.mtaSts).toEqual({
      mode: "none",
      maxAge: 86_400,
      mx: [],
    })
  })

  it("changes the policy id when the policy changes and only then", () => {
    const idOf = (files: Files) => {
      const policy = compile(files, certs).policy?.localDomains["acme.example"]?.mtaSts
      if (!policy) throw new Error("no mtaSts compiled")
      return mtaStsPolicyId(policy)
    }
    const first = idOf(withMtaSts(baseFiles(certs), ENFORCE))
    // An unrelated change to the policy directory, and another spelling of the same mx pattern.
    const unrelated = edit(
      baseFiles(certs),
      "local.yaml",
      "mailbox.lawfirm.example",
      "mailbox2.lawfirm.example",
    )
    expect(idOf(withMtaSts(unrelated, ENFORCE.replace("MX1.Relay.Example.", "mx1.relay.example")))).toBe(
      first,
    )
    expect(idOf(withMtaSts(baseFiles(certs), ENFORCE.replace("7d", "14d")))).not.toBe(first)
    expect(idOf(withMtaSts(baseFiles(certs), ENFORCE.replace("mode: enforce", "mode: testing")))).not.toBe(
      first,
    )
  })
})
