/**
 * The soak's judge attacked with hand-made ledgers: each rule must catch what it is there for
 * (a lost message, a duplicate without cause, a plaintext copy, an NDR before its expiry point, a
 * rejected recipient delivered) and accept what at-least-once delivery allows.
 */
import { describe, expect, it } from "vitest"
import type { PartnerDelivery } from "./flaky-partner"
import { type Accepted, type Dsn, dsnOf, type Fault, judge, queuedAtOf, SOAK_HEADER } from "./ledger"

const retry = { warnAfter: 8_000, expireAfter: 20_000 }
const t0 = 1_800_000_000_000
const accepted = (id: string, kind: Accepted["kind"] = "deliver", at = t0): Accepted => ({
  id,
  kind,
  relay: "r1",
  queueId: undefined,
  acceptedAt: at,
})
const copy = (id: string, at: number, over: Partial<PartnerDelivery> = {}): PartnerDelivery => ({
  at,
  mode: "good",
  secure: true,
  mailFrom: "alice@customer.example",
  rcptTo: ["bob@flaky.example"],
  body: `Subject: x\r\n${SOAK_HEADER}: ${id}\r\n\r\nbody\r\n`,
  acknowledged: true,
  ...over,
})

describe("soak ledger", () => {
  it("finds nothing wrong in a clean run", () => {
    const v = judge([accepted("s-1")], [copy("s-1", t0 + 100)], [], [], retry)
    expect(v).toMatchObject({ lost: [], unexplainedDuplicates: [], plaintext: [], unexpectedDsns: [] })
  })

  it("counts a message whose only copy was cut before the final reply as lost", () => {
    const v = judge([accepted("s-1")], [copy("s-1", t0 + 100, { acknowledged: false })], [], [], retry)
    expect(v.lost).toEqual(["s-1"])
  })

  it("explains a duplicate by a dropped final reply or a relay kill around it, and nothing else", () => {
    const kill: Fault = { kind: "relay-sigkill", target: "r1", from: t0 + 5_000, to: t0 + 6_000 }
    const ok = judge(
      [accepted("s-1"), accepted("s-2")],
      [
        copy("s-1", t0 + 100, { acknowledged: false }),
        copy("s-1", t0 + 1_200),
        copy("s-2", t0 + 4_000),
        copy("s-2", t0 + 9_000),
      ],
      [],
      [kill],
      retry,
    )
    expect(ok.unexplainedDuplicates).toEqual([])
    expect(ok.duplicatesByCause).toEqual({ "dropped-final-reply": 1, "relay-sigkill": 1 })
    // A partner fault (the partner refusing) explains no duplicate; neither does a kill long after.
    const refuse: Fault = { kind: "partner-refuse", target: "p", from: t0, to: t0 + 60_000 }
    const late: Fault = { kind: "relay-sigkill", target: "r1", from: t0 + 30_000, to: t0 + 31_000 }
    const bad = judge(
      [accepted("s-3")],
      [copy("s-3", t0), copy("s-3", t0 + 2_000)],
      [],
      [refuse, late],
      retry,
    )
    expect(bad.unexplainedDuplicates).toHaveLength(1)
  })

  it("flags any copy outside TLS or in the plaintext mode", () => {
    const v = judge(
      [accepted("s-1"), accepted("s-2")],
      [copy("s-1", t0, { secure: false }), copy("s-2", t0, { mode: "plaintext" })],
      [],
      [],
      retry,
    )
    expect(v.plaintext).toEqual(["s-1", "s-2"])
  })

  it("wants an NDR for rejected and deferred mail, not before the expiry point, and no delivery of it", () => {
    const dsn = (id: string, action: Dsn["action"], at: number): Dsn => ({ id, action, at })
    const v = judge(
      [
        accepted("s-1", "reject"),
        accepted("s-2", "defer"),
        accepted("s-3", "defer"),
        accepted("s-4", "reject"),
      ],
      [copy("s-4", t0 + 100)],
      [
        dsn("s-1", "failed", t0 + 500),
        dsn("s-2", "delayed", t0 + 8_000),
        dsn("s-2", "failed", t0 + 20_100),
        dsn("s-3", "failed", t0 + 5_000),
      ],
      [],
      retry,
    )
    expect(v.unbounced).toEqual(["s-4"])
    expect(v.bouncedEarly).toEqual(["s-3:failed:+5000ms"])
    expect(v.rejectedDelivered).toEqual(["s-4"])
  })

  it("flags a DSN for delivered mail, but allows one for a message the client got no 250 for", () => {
    const v = judge(
      [accepted("s-1")],
      [copy("s-1", t0)],
      [
        { id: "s-1", action: "failed", at: t0 },
        { id: "s-9", action: "failed", at: t0 },
      ],
      [],
      retry,
    )
    expect(v.unexpectedDsns).toEqual(["s-1:failed"])
    expect(v.unacknowledged).toEqual(["s-9"])
  })

  it("takes queuedAt from the queue id (the 250 may come late), the 250's time otherwise", () => {
    const late = { ...accepted("s-1", "defer", t0 + 6_000), queueId: `${t0.toString(36)}-0a1b2c3d4e5f` }
    expect(queuedAtOf(late)).toBe(t0)
    expect(queuedAtOf(accepted("s-2", "defer", t0))).toBe(t0)
    const dsn: Dsn = { id: "s-1", action: "failed", at: t0 + 21_000 }
    expect(judge([late], [], [dsn], [], retry).bouncedEarly).toEqual([])
    expect(judge([{ ...late, queueId: undefined }], [], [dsn], [], retry).bouncedEarly).toHaveLength(1)
  })

  it("reads a DSN's original id and action", () => {
    const body = `Content-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\nContent-Type: text/rfc822-headers\r\n\r\n${SOAK_HEADER}: s-42\r\n`
    expect(dsnOf(body, 7)).toEqual({ id: "s-42", action: "failed", at: 7 })
  })
})
