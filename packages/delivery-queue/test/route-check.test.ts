/**
 * The provider-change check (`checkRoute`) and what a failure to a partner whose MX moved away
 * from its route carries: the mismatch in the job's last failure, its log line, and the text of
 * the delay warning and the NDR.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { checkRoute, DeliveryFailed, decideAttempt } from "../src"
import { h, job, t0 } from "./attempt-fixtures"

const retry = { schedule: [5 * 60_000], every: h, warnAfter: 4 * h, expireAfter: 10 * 86_400_000 }
const moved = checkRoute("Bank.Example", ["mx.other-provider.example."], ["smtp-in.bank.example"], t0)
const NOTE =
  "bank.example's MX now points to mx.other-provider.example; our route still targets smtp-in.bank.example"

describe("checkRoute", () => {
  it.each([
    [["smtp-in.bank.example."], false],
    [["MX2.Bank.Example", "smtp-in.bank.example"], false],
    [["mx.other-provider.example"], true],
    [[], false],
  ])("MX %j against the route smtp-in.bank.example: mismatch %s", (mx, mismatch) => {
    expect(checkRoute("bank.example", mx, ["SMTP-IN.bank.example"], t0).mismatch).toBe(mismatch)
  })
})

describe("a failure to a partner whose MX moved", () => {
  const expired = new DeliveryFailed({
    code: "CERT_EXPIRED",
    status: "4.7.5",
    server: "smtp-in.bank.example:25",
  })

  it("keeps the check in the job and says so in the log line and the delay warning", () => {
    const decision = decideAttempt({
      data: job,
      now: t0 + 4 * h,
      retry,
      serial: 1,
      outcome: Either.left(expired),
      routeMismatch: moved,
    })
    expect(decision.data.lastFailure?.route).toEqual(moved)
    expect(decision.logLine).toContain(NOTE)
    expect(decision.reports.map((r) => [r.kind, r.recipients[0]?.detail])).toEqual([
      ["delay", expect.stringContaining(NOTE)],
    ])
  })

  it("puts it in the NDR of a permanent failure", () => {
    const refused = new DeliveryFailed({
      code: "SMTP_PERMANENT",
      status: "5.7.1",
      server: "smtp-in.bank.example:25",
    })
    const decision = decideAttempt({
      data: job,
      now: t0,
      retry,
      serial: 1,
      outcome: Either.left(refused),
      routeMismatch: moved,
    })
    expect(decision.reports.map((r) => [r.kind, r.recipients[0]?.detail])).toEqual([
      ["failure", expect.stringContaining(NOTE)],
    ])
  })

  it("says nothing when the route check found no mismatch", () => {
    const fine = checkRoute("bank.example", ["smtp-in.bank.example"], ["smtp-in.bank.example"], t0)
    const decision = decideAttempt({
      data: job,
      now: t0,
      retry,
      serial: 1,
      outcome: Either.left(expired),
      routeMismatch: fine,
    })
    expect(decision.data.lastFailure).not.toHaveProperty("route")
    expect(decision.logLine).not.toContain("MX now points")
  })
})
