/**
 * The pure parts: the TXT record (RFC 8461 §3.1), the policy file (§3.2) and MX matching (§4.1),
 * each a happy-path default and one thing changed per case.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { discoverFromTxt, mxMatches, parsePolicy, parseStsRecord } from "../src"

const DOMAIN = "example.net"
const GOOD = [
  "version: STSv1",
  "mode: enforce",
  "mx: mx1.example.net",
  "mx: *.mx.example.net",
  "max_age: 86400",
]

const parse = (lines: ReadonlyArray<string>, eol = "\r\n") => parsePolicy(DOMAIN, lines.join(eol))
const failure = (lines: ReadonlyArray<string>) => {
  const result = parse(lines)
  if (Either.isRight(result)) throw new Error("expected a failure")
  const { _tag, line, rule, value } = result.left
  return { _tag, line, rule, value }
}
const replace = (index: number, line: string) => GOOD.map((l, i) => (i === index ? line : l))

describe("parsePolicy", () => {
  it("reads the happy-path policy, CRLF or LF, with a trailing line end", () => {
    const expected = { mode: "enforce", mx: ["mx1.example.net", "*.mx.example.net"], maxAge: 86_400 }
    expect(parse(GOOD)).toEqual(Either.right(expected))
    expect(parse([...GOOD, ""], "\n")).toEqual(Either.right(expected))
  })

  it("takes fields in any order, ignores unknown ones and repeats of single fields", () => {
    const lines = [
      "max_age: 600",
      "mx: MX1.Example.NET.",
      "x-note: kept out",
      "mode: testing",
      "version: STSv1",
    ]
    expect(parse([...lines, "mode: enforce", "mx: mx1.example.net"])).toEqual(
      Either.right({ mode: "testing", mx: ["mx1.example.net"], maxAge: 600 }),
    )
  })

  it("accepts mode none without any mx", () => {
    expect(parse(["version: STSv1", "mode: none", "max_age: 0"])).toEqual(
      Either.right({ mode: "none", mx: [], maxAge: 0 }),
    )
  })

  it.each([
    ["no version line", GOOD.slice(1), { line: 0, rule: "version-missing", value: "" }],
    ["version STSv2", replace(0, "version: STSv2"), { line: 1, rule: "version-unsupported", value: "STSv2" }],
    ["version in other case", replace(0, "Version: STSv1"), { line: 0, rule: "version-missing", value: "" }],
    ["no mode", GOOD.filter((l) => !l.startsWith("mode")), { line: 0, rule: "mode-missing", value: "" }],
    ["mode strict", replace(1, "mode: strict"), { line: 2, rule: "mode-invalid", value: "strict" }],
    ["mode Enforce", replace(1, "mode: Enforce"), { line: 2, rule: "mode-invalid", value: "Enforce" }],
    ["no max_age", GOOD.slice(0, 4), { line: 0, rule: "max-age-missing", value: "" }],
    [
      "max_age over a year",
      replace(4, "max_age: 31557601"),
      { line: 5, rule: "max-age-invalid", value: "31557601" },
    ],
    ["max_age negative", replace(4, "max_age: -1"), { line: 5, rule: "max-age-invalid", value: "-1" }],
    [
      "max_age with a unit",
      replace(4, "max_age: 86400s"),
      { line: 5, rule: "max-age-invalid", value: "86400s" },
    ],
    [
      "enforce without mx",
      GOOD.filter((l) => !l.startsWith("mx")),
      { line: 0, rule: "mx-missing", value: "" },
    ],
    [
      "wildcard inside",
      replace(2, "mx: mail.*.example.net"),
      { line: 3, rule: "mx-invalid", value: "mail.*.example.net" },
    ],
    [
      "two wildcards",
      replace(3, "mx: *.*.example.net"),
      { line: 4, rule: "mx-invalid", value: "*.*.example.net" },
    ],
    [
      "partial wildcard",
      replace(3, "mx: mx*.example.net"),
      { line: 4, rule: "mx-invalid", value: "mx*.example.net" },
    ],
    ["a bare label", replace(2, "mx: localhost"), { line: 3, rule: "mx-invalid", value: "localhost" }],
    [
      "an underscore",
      replace(2, "mx: mx_1.example.net"),
      { line: 3, rule: "mx-invalid", value: "mx_1.example.net" },
    ],
    [
      "a line without colon",
      [...GOOD.slice(0, 2), "garbage", ...GOOD.slice(2)],
      { line: 3, rule: "field-syntax", value: "garbage" },
    ],
  ])("%s → %o", (_name, lines, expected) => {
    expect(failure(lines)).toEqual({ _tag: "MtaStsPolicyInvalid", ...expected })
  })

  it("reports the first broken line, before missing fields", () => {
    expect(failure(["mode: strict", "max_age: x"])).toMatchObject({ line: 1, rule: "mode-invalid" })
  })
})

describe("the TXT record", () => {
  it.each([
    ["v=STSv1; id=20260301T000000;", "20260301T000000"],
    ["v=STSv1;id=abc", "abc"],
    ["v=STSv1 ; id=abc ; ext=1 ;", "abc"],
    ["v=STSv1; id=first; id=second", "first"],
  ])("%s has id %s", (record, id) => {
    expect(parseStsRecord(record)).toBe(id)
  })

  it.each([
    ["v=STSv1;"],
    ["v=STSv1; id="],
    ["v=STSv1; id=has-dash"],
    ["v=STSv1; id=123456789012345678901234567890123"],
    ["v=STSv1; id=abc;; x=1"],
    ["v=STSv1; ext=a=b; id=abc"],
  ])("%s is not a valid record", (record) => {
    expect(parseStsRecord(record)).toBeUndefined()
  })

  it("concatenates character-strings and ignores records of other kinds", () => {
    expect(discoverFromTxt([["v=spf1 -all"], ["v=STS", "v1; id=", "split1"]])).toEqual({
      _tag: "Found",
      id: "split1",
    })
  })

  it("answers none for no record, two records, or one broken record", () => {
    expect(discoverFromTxt([])).toEqual({ _tag: "Absent", reason: "no-record" })
    expect(discoverFromTxt([["v=STSv2; id=a"], ["V=STSv1; id=a"]])).toEqual({
      _tag: "Absent",
      reason: "no-record",
    })
    expect(discoverFromTxt([["v=STSv1; id=a"], ["v=STSv1; id=b"]])).toEqual({
      _tag: "Absent",
      reason: "multiple-records",
    })
    expect(discoverFromTxt([["v=STSv1; id=a b"]])).toEqual({ _tag: "Absent", reason: "invalid-record" })
  })
})

describe("mxMatches", () => {
  const policy = { mx: ["mx1.example.net", "*.mx.example.net"] }

  it.each([
    ["mx1.example.net", true],
    ["MX1.Example.Net.", true],
    ["a.mx.example.net", true],
    ["A.MX.EXAMPLE.NET.", true],
    ["mx.example.net", false],
    ["b.a.mx.example.net", false],
    ["mx2.example.net", false],
    ["mx1.example.net.attacker.test", false],
    ["evilmx.example.net", false],
    ["*.mx.example.net", false],
    ["", false],
  ])("%s → %s", (host, expected) => {
    expect(mxMatches(policy, host)).toBe(expected)
  })
})
