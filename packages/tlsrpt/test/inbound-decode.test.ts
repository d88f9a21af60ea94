/**
 * From received bytes to a report: both media types of RFC 8460 §5.3, the body and report size
 * limits (a gzip bomb is refused without being inflated past the limit), broken gzip, UTF-8 and
 * JSON, and schema violations with their path; and the same from report mails.
 */
import { gzipSync } from "node:zlib"
import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeReportAs, maxMailBytes, reportFromMail } from "../src/inbound"
import { gzipPart, jsonPart, reportMail } from "./report-mail"
import { sampleReport } from "./rfc-example"

const LIMITS = { maxBodyBytes: 64 * 1024, maxReportBytes: 256 * 1024 }

const decoded = (bytes: Buffer, mediaType: string | undefined) =>
  Effect.runPromise(Effect.either(decodeReportAs(bytes, mediaType, LIMITS)))

const fromMail = (raw: Buffer) => Effect.runPromise(Effect.either(reportFromMail(raw, LIMITS)))

const failureOf = <E>(result: Either.Either<unknown, E>) =>
  Either.match(result, { onLeft: (e) => e, onRight: () => undefined })

describe("decodeReportAs", () => {
  it("reads a gzip report and a JSON report, media type parameters and case aside", async () => {
    const report = sampleReport()
    expect(await decoded(gzipSync(JSON.stringify(report)), "application/tlsrpt+gzip")).toEqual(
      Either.right(report),
    )
    expect(
      await decoded(Buffer.from(JSON.stringify(report)), "Application/TLSRPT+JSON; charset=utf-8"),
    ).toEqual(Either.right(report))
  })

  it("refuses another media type, or none", async () => {
    const body = Buffer.from(JSON.stringify(sampleReport()))
    expect(failureOf(await decoded(body, "application/json"))).toMatchObject({
      _tag: "ReportMediaTypeUnsupported",
      mediaType: "application/json",
    })
    expect(failureOf(await decoded(body, undefined))).toMatchObject({ _tag: "ReportMediaTypeUnsupported" })
  })

  it("refuses a gzip bomb at the report limit", async () => {
    // 32 MiB of spaces after the report: ~32 KiB gzipped (deflate tops out near 1:1000).
    const bomb = gzipSync(
      Buffer.concat([Buffer.from(JSON.stringify(sampleReport())), Buffer.alloc(32 << 20, 32)]),
    )
    expect(bomb.length).toBeLessThan(LIMITS.maxBodyBytes)
    expect(failureOf(await decoded(bomb, "application/tlsrpt+gzip"))).toMatchObject({
      _tag: "ReportTooLarge",
      stage: "report",
      limit: LIMITS.maxReportBytes,
    })
  })

  it("refuses a body over the body limit, compressed or not", async () => {
    const big = Buffer.alloc(LIMITS.maxBodyBytes + 1, 32)
    expect(failureOf(await decoded(big, "application/tlsrpt+json"))).toMatchObject({
      _tag: "ReportTooLarge",
      stage: "body",
    })
    expect(failureOf(await decoded(big, "application/tlsrpt+gzip"))).toMatchObject({
      _tag: "ReportTooLarge",
      stage: "body",
    })
  })

  it("refuses a plain JSON report over the report limit", async () => {
    const limits = { maxBodyBytes: 1024, maxReportBytes: 100 }
    const body = Buffer.from(JSON.stringify(sampleReport()))
    const result = await Effect.runPromise(
      Effect.either(decodeReportAs(body.subarray(0, 1000), "application/tlsrpt+json", limits)),
    )
    expect(failureOf(result)).toMatchObject({ _tag: "ReportTooLarge", stage: "report", limit: 100 })
  })

  it.each([
    ["broken gzip", Buffer.from("not gzip at all"), "application/tlsrpt+gzip", "gzip"],
    [
      "a truncated gzip",
      gzipSync(JSON.stringify(sampleReport())).subarray(0, 40),
      "application/tlsrpt+gzip",
      "gzip",
    ],
    ["bytes that are no UTF-8", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), "application/tlsrpt+json", "utf8"],
    ["text that is no JSON", Buffer.from("{organization-name: x}"), "application/tlsrpt+json", "json"],
  ])("refuses %s as undecodable", async (_name, body, mediaType, form) => {
    expect(failureOf(await decoded(body, mediaType))).toMatchObject({ _tag: "ReportUndecodable", form })
  })

  it("refuses JSON that is no report, with the path of each violation", async () => {
    const report = structuredClone(sampleReport()) as unknown as { policies: Array<{ summary: unknown }> }
    delete (report as Record<string, unknown>)["report-id"]
    report.policies[0]!.summary = { "total-successful-session-count": -3, "total-failure-session-count": 0 }
    expect(
      failureOf(await decoded(gzipSync(JSON.stringify(report)), "application/tlsrpt+gzip")),
    ).toMatchObject({
      _tag: "ReportInvalid",
      violations: [
        { path: "/report-id", message: "is required" },
        { path: "/policies/0/summary/total-successful-session-count", message: "must be >= 0" },
      ],
    })
  })
})

describe("reportFromMail", () => {
  it("reads the gzip report part of an RFC 8460 §5.3 mail", async () => {
    expect(await fromMail(reportMail([gzipPart(sampleReport())]))).toEqual(Either.right(sampleReport()))
  })

  it("reads an application/tlsrpt+json part", async () => {
    expect(await fromMail(reportMail([jsonPart(sampleReport())]))).toEqual(Either.right(sampleReport()))
  })

  it("reads a report labelled application/gzip when it keeps the §5.3 file name", async () => {
    const part = gzipPart(sampleReport(), { contentType: "application/gzip" })
    expect(await fromMail(reportMail([part]))).toEqual(Either.right(sampleReport()))
  })

  it("refuses a mail without a report part, or with two", async () => {
    const pdf = { contentType: "application/pdf", fileName: "report.pdf", content: Buffer.from("%PDF-1.4") }
    expect(failureOf(await fromMail(reportMail([pdf])))).toMatchObject({
      _tag: "ReportMailUnusable",
      form: "no-report",
    })
    const two = reportMail([gzipPart(sampleReport()), jsonPart(sampleReport())])
    expect(failureOf(await fromMail(two))).toMatchObject({
      _tag: "ReportMailUnusable",
      form: "several-reports",
    })
  })

  it("refuses an invalid report in a mail with its violations", async () => {
    const part = gzipPart({ ...sampleReport(), policies: [] })
    expect(failureOf(await fromMail(reportMail([part])))).toMatchObject({
      _tag: "ReportInvalid",
      violations: [{ path: "/policies" }],
    })
  })

  it("refuses a mail larger than a report attachment can make it, before parsing", async () => {
    const raw = Buffer.alloc(maxMailBytes(LIMITS) + 1, 65)
    expect(failureOf(await fromMail(raw))).toMatchObject({ _tag: "ReportTooLarge", stage: "mail" })
  })
})
