/**
 * The RFC 8460 §4.4 schema in its two readings: the RFC's own example passes, and each broken
 * report is refused with the JSON Pointer of the member at fault (one field changed per test).
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { MAX_VIOLATIONS, type SchemaViolation, validateReceivedReport, validateReport } from "../src/schema"
import { RFC_EXAMPLE, rfcExampleAsSpecified, sampleReport } from "./rfc-example"

// biome-ignore lint/suspicious/noExplicitAny: a report broken on purpose has no type to keep
type Draft = any

const violations = (result: Either.Either<unknown, ReadonlyArray<SchemaViolation>>) =>
  Either.match(result, { onLeft: (v) => v, onRight: () => [] })

/** A deep copy of the happy-path report with `edit` applied to it. */
const edited = (edit: (report: Draft) => void): unknown => {
  const report = structuredClone(sampleReport()) as Draft
  edit(report)
  return report
}

describe("validateReport (strict: the RFC as written)", () => {
  it("accepts Appendix B with the §4.4 member name, and the sample report", () => {
    expect(Either.isRight(validateReport(rfcExampleAsSpecified()))).toBe(true)
    expect(validateReport(sampleReport())).toEqual(Either.right(sampleReport()))
  })

  it("refuses Appendix B verbatim: failure-error-code is not a §4.4 member", () => {
    expect(violations(validateReport(RFC_EXAMPLE))).toEqual([
      {
        path: "/policies/0/failure-details/2/failure-error-code",
        message: "is not a member of an RFC 8460 report",
      },
    ])
  })

  it.each([
    ["organization-name", (r: Draft) => delete r["organization-name"], "/organization-name", "is required"],
    ["report-id", (r: Draft) => delete r["report-id"], "/report-id", "is required"],
    [
      "end-datetime",
      (r: Draft) => delete r["date-range"]["end-datetime"],
      "/date-range/end-datetime",
      "is required",
    ],
    ["summary", (r: Draft) => delete r.policies[0].summary, "/policies/0/summary", "is required"],
    [
      "failed-session-count",
      (r: Draft) => delete r.policies[0]["failure-details"][0]["failed-session-count"],
      "/policies/0/failure-details/0/failed-session-count",
      "is required",
    ],
  ])("refuses a report without %s", (_name, edit, path, message) => {
    expect(violations(validateReport(edited(edit)))).toEqual([{ path, message }])
  })

  it.each([
    [
      "a date without a time zone",
      (r: Draft) => (r["date-range"]["start-datetime"] = "2025-06-01 00:00:00"),
      "/date-range/start-datetime",
    ],
    [
      "a negative count",
      (r: Draft) => (r.policies[0].summary["total-failure-session-count"] = -1),
      "/policies/0/summary/total-failure-session-count",
    ],
    [
      "a fractional count",
      (r: Draft) => (r.policies[0].summary["total-successful-session-count"] = 1.5),
      "/policies/0/summary/total-successful-session-count",
    ],
    [
      "a count as a string",
      (r: Draft) => (r.policies[0].summary["total-successful-session-count"] = "40"),
      "/policies/0/summary/total-successful-session-count",
    ],
    [
      "an unknown policy type",
      (r: Draft) => (r.policies[0].policy["policy-type"] = "dane"),
      "/policies/0/policy/policy-type",
    ],
    [
      "a policy string that is not a list",
      (r: Draft) => (r.policies[0].policy["policy-string"] = "version: STSv1"),
      "/policies/0/policy/policy-string",
    ],
    [
      "an unregistered result type",
      (r: Draft) => (r.policies[0]["failure-details"][0]["result-type"] = "certificate-revoked"),
      "/policies/0/failure-details/0/result-type",
    ],
    [
      "a sending address that is no IP",
      (r: Draft) => (r.policies[0]["failure-details"][0]["sending-mta-ip"] = "mta.example"),
      "/policies/0/failure-details/0/sending-mta-ip",
    ],
    ["a contact that is no address", (r: Draft) => (r["contact-info"] = "call us"), "/contact-info"],
    [
      "an mx-host list",
      (r: Draft) => (r.policies[0].policy["mx-host"] = ["mx.our.example"]),
      "/policies/0/policy/mx-host",
    ],
    ["no policy at all", (r: Draft) => (r.policies = []), "/policies"],
    [
      "an end before the start",
      (r: Draft) => (r["date-range"]["end-datetime"] = "2025-05-31T23:59:59Z"),
      "/date-range/end-datetime",
    ],
  ])("refuses %s, naming the member", (_name, edit, path) => {
    expect(violations(validateReport(edited(edit))).map((v) => v.path)).toEqual([path])
  })

  it("refuses what is not an object at the root", () => {
    expect(violations(validateReport([]))).toEqual([{ path: "", message: "must be object" }])
    expect(violations(validateReport(null))).toEqual([{ path: "", message: "must be object" }])
  })

  it("names every broken member, up to a bound", () => {
    const many = edited((r) => {
      r.policies = Array.from({ length: 30 }, () => ({ policy: { "policy-type": "sts" }, summary: {} }))
    })
    const found = violations(validateReport(many))
    expect(found).toHaveLength(MAX_VIOLATIONS)
    expect(found[0]).toEqual({ path: "/policies/0/policy/policy-domain", message: "is required" })
  })
})

describe("validateReceivedReport (the RFC as deployed)", () => {
  it("accepts Appendix B verbatim", () => {
    expect(validateReceivedReport(RFC_EXAMPLE)).toEqual(Either.right(RFC_EXAMPLE))
  })

  it("accepts a result type registered after RFC 8460, and an mx-host list", () => {
    const report = edited((r) => {
      r.policies[0]["failure-details"][0]["result-type"] = "certificate-revoked"
      r.policies[0].policy["mx-host"] = ["mx1.our.example", "mx2.our.example"]
    })
    expect(Either.isRight(validateReceivedReport(report))).toBe(true)
  })

  it("still refuses a missing required member and a result type that is no token", () => {
    expect(violations(validateReceivedReport(edited((r) => delete r.policies[0].summary)))).toEqual([
      { path: "/policies/0/summary", message: "is required" },
    ])
    const spaced = edited((r) => (r.policies[0]["failure-details"][0]["result-type"] = "Certificate Expired"))
    expect(violations(validateReceivedReport(spaced)).map((v) => v.path)).toEqual([
      "/policies/0/failure-details/0/result-type",
    ])
  })
})
