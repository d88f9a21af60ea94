/** `_smtp._tls` TXT records by RFC 8460 §3. */
import { describe, expect, it } from "vitest"
import { parseTlsRptRecords, tlsRptName } from "../src/record"

describe("the _smtp._tls record", () => {
  it("is looked up under _smtp._tls of the domain", () => {
    expect(tlsRptName("Example.COM.")).toBe("_smtp._tls.example.com")
  })

  it("gives its mailto and https destinations, joined from several character-strings", () => {
    expect(
      parseTlsRptRecords([
        ["v=spf1 -all"],
        ["v=TLSRPTv1; rua=mailto:tls@b.example,", "https://reports.b.example/v1/tlsrpt"],
      ]),
    ).toEqual({
      _tag: "Record",
      rua: [
        { scheme: "mailto", uri: "mailto:tls@b.example", address: "tls@b.example" },
        { scheme: "https", uri: "https://reports.b.example/v1/tlsrpt" },
      ],
      ignored: [],
    })
  })

  it("skips what it cannot use: another scheme, a plain http URI, a broken address", () => {
    const record = parseTlsRptRecords([
      ["v=TLSRPTv1;rua=ftp://x.example,http://b.example/r,mailto:not an address,mailto:ok@b.example"],
    ])
    expect(record).toMatchObject({
      _tag: "Record",
      rua: [{ address: "ok@b.example" }],
      ignored: ["ftp://x.example", "http://b.example/r", "mailto:not an address"],
    })
  })

  it.each([
    [[], "none"],
    [[["v=TLSRPTv2; rua=mailto:a@b.example"]], "none"],
    [[["v=TLSRPTv1rua=mailto:a@b.example"]], "none"],
    [[["v=TLSRPTv1; rua=mailto:a@b.example"], ["v=TLSRPTv1; rua=mailto:c@b.example"]], "several"],
    [[["v=TLSRPTv1;"]], "no-rua"],
    [[["v=TLSRPTv1; rua=gopher://b.example"]], "no-rua"],
  ] as const)("no usable record in %j: %s", (txt, reason) => {
    expect(parseTlsRptRecords(txt as unknown as ReadonlyArray<ReadonlyArray<string>>)).toEqual({
      _tag: "NoRecord",
      reason,
    })
  })
})
