/** A record read per recipient: where each stands after its newest attempt, and the DSNs owed. */
import { describe, expect, it } from "vitest"
import { summarize, type TraceLine } from "../src"
import { attempt, deferred, dsn, sessionIn } from "./lines"

const T = Date.parse("2026-12-01T10:00:00Z")
const as = (...lines: ReadonlyArray<object>) => lines.map((l) => ({ ...l, relay: "r" }) as TraceLine)

describe("summarize", () => {
  it("follows each recipient from queued to its newest attempt, with the attempt's partner, server and TLS", () => {
    const two = ["bob@bank.example", "eve@bank.example"]
    const summary = summarize({
      queueId: "q1",
      at: T,
      lines: as(
        sessionIn("q1", T, { recipients: [...two, "zoe@other.example"] }),
        deferred("q1", T + 1_000, {
          recipients: two.map((address) => ({ address, outcome: "deferred", status: "4.7.5" })),
        }),
        dsn("q1", T + 2_000),
        attempt("q1", T + 3_000, {
          attempt: 2,
          result: "partial",
          code: "SMTP_PERMANENT",
          recipients: [
            { address: "bob@bank.example", outcome: "delivered", status: "2.0.0" },
            { address: "eve@bank.example", outcome: "bounced", status: "5.1.1", reply: "550 no such user" },
          ],
        }),
      ),
    })
    expect(summary).toMatchObject({
      queueId: "q1",
      messageId: "q1@customer.example",
      sender: "alice@customer.example",
      firstAt: new Date(T).toISOString(),
      lastAt: new Date(T + 3_000).toISOString(),
      dsns: [{ kind: "delay" }],
    })
    expect(summary.attempts).toHaveLength(2)
    expect(summary.recipients).toEqual([
      expect.objectContaining({
        address: "bob@bank.example",
        status: "delivered",
        attempts: 2,
        partner: "bank",
      }),
      expect.objectContaining({
        address: "eve@bank.example",
        status: "bounced",
        attempts: 2,
        code: "SMTP_PERMANENT",
        reply: "550 no such user",
      }),
      { address: "zoe@other.example", status: "queued", attempts: 0, at: new Date(T).toISOString() },
    ])
    expect(summary.recipients[0]).not.toHaveProperty("code")
    expect(summary.recipients[0]?.tls).toMatchObject({ verification: { ok: true } })
  })

  it("reads a record whose session-in has expired from its attempts", () => {
    const summary = summarize({ queueId: "q2", at: T, lines: as(deferred("q2", T)) })
    expect(summary).toMatchObject({ sender: "alice@customer.example", messageId: "q2@customer.example" })
    expect(summary.recipients).toMatchObject([
      { address: "bob@bank.example", status: "deferred", code: "CERT_EXPIRED" },
    ])
    expect(summary).not.toHaveProperty("sessionIn")
  })
})
