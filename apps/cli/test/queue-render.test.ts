/** `queue list`'s text for the entries no timeline moves: a failed job, readable or not. */
import type { QueueEntry } from "@mailconnect/delivery-queue"
import { describe, expect, it } from "vitest"
import { renderList, renderMessage } from "../src/commands/queue-render"

const now = Date.parse("2026-12-07T12:00:00Z")
const failed: QueueEntry = {
  jobId: "m1/bank.example",
  messageId: "m1",
  domain: "bank.example",
  partner: "bank",
  state: "failed",
  sender: "",
  pending: [],
  queuedAt: now - 3 * 3_600_000,
  attempts: 1,
  isDsn: false,
  failedReason: "job data does not match version 1",
  unreadable: true,
}

describe("queue list text", () => {
  it("shows a failed job as never tried again, with its reason and what the operator can do", () => {
    const lines = renderList([failed], now).split("\n")
    expect(lines[1]).toMatch(/^m1\/bank\.example\s+failed\s+3h\s+1\s+never\s+-\s+bank\s+\?$/)
    expect(lines[2]).toBe(
      "    failed: job data does not match version 1 (sender and recipients unreadable); retry it or delete it",
    )
    expect(lines.at(-1)).toBe("-- 1 job(s), 1 message(s), 0 pending recipient(s)")
  })

  it("shows a parked job whose data this version cannot read as such", () => {
    const { failedReason: _, ...rest } = failed
    const lines = renderList([{ ...rest, state: "deferred" }], now).split("\n")
    expect(lines[1]).toMatch(/^m1\/bank\.example\s+deferred\s+3h\s+1\s+-\s+-\s+bank\s+\?$/)
    expect(lines[2]).toBe(
      "    job data this version cannot read (sender and recipients unknown); retry it or delete it",
    )
  })

  it("shows a readable failed job's sender and recipients", () => {
    const { unreadable: _, ...readable } = failed
    const text = renderList(
      [{ ...readable, sender: "alice@customer.example", pending: ["a@bank.example"], failedReason: "boom" }],
      now,
    )
    expect(text).toContain(
      "never  -     bank     alice@customer.example\n    failed: boom; retry it or delete it\n    a@bank.example\n",
    )
  })

  it("queue show: a job whose data this version cannot read is named by its id, its reason and log kept", () => {
    const text = renderMessage({
      messageId: "m1",
      bodyStored: true,
      jobs: [],
      unreadable: [
        {
          jobId: "m1/bank.example",
          state: "failed",
          failedReason: "job data does not match version 1",
          log: ["2026-12-07T09:00:00.000Z | attempt 1 | deferred"],
        },
      ],
    })
    expect(text.split("\n")).toEqual([
      "message m1 (body in spool)",
      "  bank.example: failed (job data does not match version 1), job data this version cannot read",
      "    | 2026-12-07T09:00:00.000Z | attempt 1 | deferred",
    ])
  })
})
