/** The pure side of queue management: which entries a selection picks, what an action may touch, the bounce. */
import { describe, expect, it } from "vitest"
import {
  isUnbounded,
  matches,
  planAction,
  QUEUE_STATES,
  type QueueAction,
  type QueueEntry,
  refusal,
  returnToSender,
} from "../src"
import { h, job, t0 } from "./attempt-fixtures"

const entry = (overrides: Partial<QueueEntry> = {}): QueueEntry => ({
  jobId: "m1/bank.example",
  messageId: "m1",
  domain: "bank.example",
  partner: "bank",
  state: "deferred",
  sender: "alice@customer.example",
  pending: ["a@bank.example"],
  queuedAt: t0,
  attempts: 2,
  code: "CERT_PIN_MISMATCH",
  isDsn: false,
  ...overrides,
})

describe("selection", () => {
  it("needs at least one filter, a message id or `all`", () => {
    expect(isUnbounded({})).toBe(true)
    expect(isUnbounded({ states: [] })).toBe(true)
    expect(isUnbounded({ all: true })).toBe(false)
    expect(isUnbounded({ olderThanMs: 0 })).toBe(false)
    expect(isUnbounded({ messageIds: ["m1"] })).toBe(false)
  })
  it("combines every filter given; the age counts from arrival", () => {
    const now = t0 + 3 * h
    expect(matches(entry(), { partner: "bank", olderThanMs: 2 * h, code: "CERT_PIN_MISMATCH" }, now)).toBe(
      true,
    )
    expect(matches(entry(), { olderThanMs: 4 * h }, now)).toBe(false)
    expect(matches(entry(), { domain: "BANK.example." }, now)).toBe(true)
    expect(matches(entry(), { partner: "insurer" }, now)).toBe(false)
    expect(matches(entry(), { states: ["held", "waiting"] }, now)).toBe(false)
    expect(matches(entry(), { messageIds: ["m2"], partner: "bank" }, now)).toBe(false)
  })
})

describe("what an action may touch", () => {
  it("acts only on mail waiting for a timeline point; a hold is ended by release alone; a failed job is retried or deleted silently", () => {
    const actions: Record<string, QueueAction> = {
      hold: { action: "hold" },
      release: { action: "release" },
      retry: { action: "retry" },
      "delete silently": { action: "delete", notify: "silent" },
      "delete with NDR": { action: "delete", notify: "ndr" },
      bounce: { action: "bounce", reason: "no" },
    }
    const table = Object.fromEntries(
      Object.entries(actions).map(([name, action]) => [
        name,
        QUEUE_STATES.map((state) => refusal(action, state) ?? "ok"),
      ]),
    )
    const unreadable = Object.fromEntries(
      Object.entries(actions).map(([name, action]) => [name, refusal(action, "deferred", true) ?? "ok"]),
    )
    expect(unreadable).toEqual({
      hold: "unreadable",
      release: "not-held",
      retry: "ok",
      "delete silently": "ok",
      "delete with NDR": "unreadable",
      bounce: "unreadable",
    })
    // columns: deferred, held, waiting, active, failed
    expect(table).toEqual({
      hold: ["ok", "already-held", "in-attempt", "in-attempt", "failed"],
      release: ["not-held", "ok", "in-attempt", "in-attempt", "not-held"],
      retry: ["ok", "held", "in-attempt", "in-attempt", "ok"],
      "delete silently": ["ok", "ok", "in-attempt", "in-attempt", "ok"],
      "delete with NDR": ["ok", "ok", "in-attempt", "in-attempt", "failed"],
      bounce: ["ok", "ok", "in-attempt", "in-attempt", "failed"],
    })
  })
  it("plans in order, with the reason for each entry left alone", () => {
    const plan = planAction({ action: "retry" }, [
      entry(),
      entry({ jobId: "m2/bank.example", state: "held" }),
      entry({ jobId: "m3/bank.example", state: "active" }),
    ])
    expect(plan.touch.map((e) => e.jobId)).toEqual(["m1/bank.example"])
    expect(plan.skip.map((s) => [s.entry.jobId, s.reason])).toEqual([
      ["m2/bank.example", "held"],
      ["m3/bank.example", "in-attempt"],
    ])
  })
})

describe("returnToSender", () => {
  const deferred = {
    ...job,
    attemptCount: 3,
    nextAttemptAt: t0 + 2 * h,
    lastFailure: {
      code: "CERT_PIN_MISMATCH" as const,
      status: "4.7.5",
      at: t0 + h,
      server: "mx.bank.example:25",
    },
  }
  it("fails every pending recipient with OPERATOR_BOUNCE and owes one NDR under a fresh attempt number", () => {
    const data = returnToSender(deferred, "partner gone", t0 + 3 * h)
    expect(data.pending).toEqual([])
    expect(data.nextAttemptAt).toBeUndefined()
    expect(data.results.map((r) => [r.recipient, r.code, r.status])).toEqual(
      job.recipients.map((r) => [r, "OPERATOR_BOUNCE", "5.0.0"]),
    )
    expect(data.reportsOwed).toEqual([
      {
        kind: "failure",
        attempt: 4,
        createdAt: t0 + 3 * h,
        recipients: job.recipients.map((address) => ({
          address,
          action: "failed",
          status: "5.0.0",
          code: "OPERATOR_BOUNCE",
          detail: "partner gone",
          remoteMta: "mx.bank.example:25",
          lastAttemptAt: t0 + h,
        })),
      },
    ])
  })
  it("owes no report about a DSN or to a null sender, and keeps a report already owed", () => {
    expect(returnToSender({ ...deferred, isDsn: true, sender: "" }, "x", t0).reportsOwed).toBeUndefined()
    const warning = { kind: "delay" as const, attempt: 3, createdAt: t0, recipients: [] }
    const owed = returnToSender({ ...deferred, reportsOwed: [warning] }, "x", t0).reportsOwed ?? []
    expect(owed.map((r) => r.kind)).toEqual(["delay", "failure"])
  })
  it("changes nothing when nothing is pending", () => {
    const done = { ...deferred, pending: [] }
    expect(returnToSender(done, "x", t0)).toBe(done)
  })
})
