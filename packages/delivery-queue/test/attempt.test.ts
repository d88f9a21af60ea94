import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { DeliveryFailed, type DeliveryReport, decideAttempt } from "../src"
import { h, job, m, t0 } from "./attempt-fixtures"

const retry = {
  schedule: [5 * m, 10 * m, 20 * m, 40 * m],
  every: h,
  warnAfter: 4 * h,
  expireAfter: 10 * 86_400_000,
}
const expired = new DeliveryFailed({
  code: "CERT_EXPIRED",
  status: "4.7.5",
  server: "mx.bank.example:25",
  detail: "expired 2026-11-01",
})
const failure = (f: DeliveryFailed) => Either.left(f)
const report = (r: DeliveryReport) => Either.right(r)

describe("one delivery attempt", () => {
  it("delivers accepted recipients, bounces 5xx ones at once and keeps 4xx ones for the next point", () => {
    const decision = decideAttempt({
      data: job,
      now: t0,
      retry,
      serial: 3,
      outcome: report({
        server: "mx.bank.example:25",
        tls: {
          protocol: "TLSv1.3",
          cipher: "TLS_AES_256_GCM_SHA384",
          verification: { ok: true, findings: [] },
        },
        recipients: [
          {
            recipient: "a@bank.example",
            accepted: true,
            permanent: false,
            status: "2.0.0",
            reply: "250 2.0.0 ok",
          },
          {
            recipient: "b@bank.example",
            accepted: false,
            permanent: true,
            status: "5.1.1",
            reply: "550 5.1.1 unknown",
          },
          {
            recipient: "c@bank.example",
            accepted: false,
            permanent: false,
            status: "4.2.2",
            reply: "452 4.2.2 full",
          },
        ],
      }),
    })
    expect(decision.data.pending).toEqual(["c@bank.example"])
    expect(decision.data.results.map((r) => [r.recipient, r.outcome])).toEqual([
      ["a@bank.example", "delivered"],
      ["b@bank.example", "failed"],
    ])
    expect(decision.next).toEqual({ _tag: "Delay", at: t0 + 5 * m })
    expect(decision.reports).toHaveLength(1)
    expect(decision.reports[0]!.kind).toBe("failure")
    expect(decision.reports[0]!.recipients[0]).toMatchObject({
      address: "b@bank.example",
      status: "5.1.1",
      smtpReply: "550 5.1.1 unknown",
    })
    expect(decision.data.lastFailure?.code).toBe("SMTP_TRANSIENT")
    expect(decision.logLine).toContain("serial 3")
    expect(decision.logLine).toContain("SMTP_TRANSIENT")
  })

  it("defers a TLS failure to the next timeline point and names the cause in the log", () => {
    const decision = decideAttempt({ data: job, now: t0, retry, serial: 3, outcome: failure(expired) })
    expect(decision.next).toEqual({ _tag: "Delay", at: t0 + 5 * m })
    expect(decision.reports).toEqual([])
    expect(decision.data.attempts).toEqual([
      { at: t0, serial: 3, code: "CERT_EXPIRED", server: "mx.bank.example:25", delivered: 0 },
    ])
    expect(decision.logLine).toMatch(/CERT_EXPIRED 4\.7\.5/)
    expect(decision.logLine).toContain('detail "expired 2026-11-01"')
  })

  it("sends one delay warning at the warning point", () => {
    const atWarn = decideAttempt({ data: job, now: t0 + 4 * h, retry, serial: 3, outcome: failure(expired) })
    expect(atWarn.reports.map((r) => r.kind)).toEqual(["delay"])
    expect(atWarn.reports[0]!.recipients[0]).toMatchObject({
      action: "delayed",
      code: "CERT_EXPIRED",
      willRetryUntil: t0 + 240 * h,
    })
    expect(atWarn.data.warned).toBe(true)
    const later = decideAttempt({
      data: atWarn.data,
      now: t0 + 5 * h,
      retry,
      serial: 3,
      outcome: failure(expired),
    })
    expect(later.reports).toEqual([])
  })

  it("gives up at the expiry with an NDR naming the last cause", () => {
    const decision = decideAttempt({
      data: { ...job, warned: true },
      now: t0 + 240 * h,
      retry,
      serial: 4,
      outcome: failure(expired),
    })
    expect(decision.next).toEqual({ _tag: "Done" })
    expect(decision.data.pending).toEqual([])
    expect(decision.reports).toHaveLength(1)
    const ndr = decision.reports[0]!
    expect(ndr.kind).toBe("failure")
    expect(ndr.recipients).toHaveLength(3)
    expect(ndr.recipients[0]).toMatchObject({ status: "5.4.7", code: "CERT_EXPIRED" })
    expect(ndr.recipients[0]!.detail).toMatch(/^gave up after 10 days; last cause CERT_EXPIRED/)
  })

  it("bounces at once on a permanent session failure", () => {
    const permanent = new DeliveryFailed({
      code: "SMTP_PERMANENT",
      status: "5.7.1",
      reply: "554 5.7.1 no",
    })
    const decision = decideAttempt({ data: job, now: t0, retry, serial: 1, outcome: failure(permanent) })
    expect(decision.next).toEqual({ _tag: "Done" })
    expect(decision.reports[0]!.recipients.map((r) => r.status)).toEqual(["5.7.1", "5.7.1", "5.7.1"])
  })

  it("never reports on a DSN or a null sender", () => {
    for (const data of [
      { ...job, isDsn: true },
      { ...job, sender: "" },
    ]) {
      const decision = decideAttempt({
        data: { ...data, warned: true },
        now: t0 + 240 * h,
        retry,
        serial: 1,
        outcome: failure(expired),
      })
      expect(decision.next).toEqual({ _tag: "Done" })
      expect(decision.reports).toEqual([])
    }
  })
})
