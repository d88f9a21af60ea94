/** Each pure step of `decideAttempt` on its own: a happy-path job, one thing changed per test. */
import { describe, expect, it } from "vitest"
import {
  type Applied,
  applyFailure,
  applyReplies,
  applyTimeline,
  DeliveryFailed,
  type DeliveryJobData,
  decodeJobData,
  recordAttempt,
  renderLogLine,
  reportsOwed,
  type Timed,
} from "../src"
import { h, m, t0, job as threeRecipients } from "./attempt-fixtures"

const retry = { schedule: [5 * m, 10 * m], every: h, warnAfter: 4 * h, expireAfter: 2 * 86_400_000 }
const job: DeliveryJobData = {
  ...threeRecipients,
  recipients: ["a@bank.example", "b@bank.example"],
  pending: ["a@bank.example", "b@bank.example"],
}
const untrusted = new DeliveryFailed({
  code: "CERT_UNTRUSTED",
  status: "4.7.5",
  server: "mx.bank.example:25",
  detail: "self-signed",
})
const transient = (pending: ReadonlyArray<string>): Applied => ({
  pending,
  results: [],
  failedNow: [],
  lastFailure: { code: "CERT_UNTRUSTED", status: "4.7.5", at: t0, server: "mx.bank.example:25" },
  server: "mx.bank.example:25",
  tls: undefined,
  delivered: 0,
})

describe("applyReplies", () => {
  it("delivers 2xx, fails 5xx at once with an NDR recipient, keeps a recipient without a reply pending", () => {
    const applied = applyReplies(
      { ...job, pending: ["a@bank.example", "b@bank.example", "c@bank.example"] },
      {
        server: "mx:25",
        recipients: [
          { recipient: "a@bank.example", accepted: true, permanent: false, status: "2.0.0", reply: "250 ok" },
          { recipient: "b@bank.example", accepted: false, permanent: true, status: "5.1.1", reply: "550 no" },
        ],
        tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" },
      },
      t0,
    )
    expect(applied.delivered).toBe(1)
    expect(applied.pending).toEqual(["c@bank.example"])
    expect(applied.results.map((r) => [r.recipient, r.outcome])).toEqual([
      ["a@bank.example", "delivered"],
      ["b@bank.example", "failed"],
    ])
    expect(applied.failedNow).toEqual([
      expect.objectContaining({ address: "b@bank.example", code: "SMTP_PERMANENT", status: "5.1.1" }),
    ])
    expect(applied.lastFailure).toEqual({ code: "SMTP_TRANSIENT", status: "4.0.0", at: t0, server: "mx:25" })
    expect(applied.tls).toEqual({ protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" })
  })
})

describe("applyFailure", () => {
  it("records a deferrable cause and keeps every recipient pending", () => {
    const applied = applyFailure(job, untrusted, t0)
    expect(applied.pending).toEqual(job.pending)
    expect(applied.failedNow).toEqual([])
    expect(applied.lastFailure).toMatchObject({ code: "CERT_UNTRUSTED", detail: "self-signed" })
  })

  it("fails every pending recipient on a permanent cause", () => {
    const applied = applyFailure(job, new DeliveryFailed({ code: "SMTP_PERMANENT", status: "5.7.1" }), t0)
    expect(applied.pending).toEqual([])
    expect(applied.results.map((r) => r.status)).toEqual(["5.7.1", "5.7.1"])
    expect(applied.failedNow.map((r) => r.address)).toEqual(job.pending)
  })
})

describe("applyTimeline", () => {
  it("is done when nothing is pending", () => {
    expect(applyTimeline(job, { ...transient([]), lastFailure: undefined }, retry, t0).next).toEqual({
      _tag: "Done",
    })
  })

  it("delays a pending recipient to the next timeline point", () => {
    const timed = applyTimeline(job, transient(["a@bank.example"]), retry, t0 + m)
    expect(timed.next).toEqual({ _tag: "Delay", at: t0 + 5 * m })
    expect(timed.warnUntil).toBeUndefined()
  })

  it("names the expiry when the attempt crosses the warning point", () => {
    const timed = applyTimeline(job, transient(["a@bank.example"]), retry, t0 + 4 * h + m)
    expect(timed.warnUntil).toBe(t0 + 2 * 86_400_000)
  })

  it("fails the pending recipients at the expiry with 5.4.7 and the last cause", () => {
    const timed = applyTimeline(job, transient(["a@bank.example"]), retry, t0 + 3 * 86_400_000)
    expect(timed.next).toEqual({ _tag: "Done" })
    expect(timed.applied.pending).toEqual([])
    expect(timed.applied.results).toEqual([
      expect.objectContaining({ status: "5.4.7", code: "CERT_UNTRUSTED" }),
    ])
    expect(timed.applied.failedNow[0]?.detail).toBe("gave up after 3 days; last cause CERT_UNTRUSTED")
  })
})

describe("reportsOwed", () => {
  const warned: Timed = {
    applied: transient(["a@bank.example"]),
    next: { _tag: "Delay", at: t0 },
    warnUntil: t0 + h,
  }

  it("owes a delay warning at the warning point", () => {
    const [delay] = reportsOwed(job, warned, t0)
    expect(delay?.kind).toBe("delay")
    expect(delay?.recipients).toEqual([
      expect.objectContaining({ action: "delayed", willRetryUntil: t0 + h }),
    ])
  })

  it("owes an NDR for recipients failed now, after the delay warning", () => {
    const bounced = applyFailure(job, new DeliveryFailed({ code: "SMTP_PERMANENT", status: "5.7.1" }), t0)
    const timed = { ...warned, applied: { ...warned.applied, failedNow: bounced.failedNow } }
    const owed = reportsOwed(job, timed, t0)
    expect(owed.map((r) => r.kind)).toEqual(["delay", "failure"])
    expect(owed[1]?.recipients.map((r) => r.address)).toEqual(job.pending)
  })

  it("owes nothing for a DSN or a null sender", () => {
    expect(reportsOwed({ ...job, isDsn: true }, warned, t0)).toEqual([])
    expect(reportsOwed({ ...job, sender: "" }, warned, t0)).toEqual([])
  })
})

describe("recordAttempt", () => {
  it("counts the attempt, keeps its code and server, marks the warning and the next attempt", () => {
    const timed: Timed = {
      applied: transient(["a@bank.example"]),
      next: { _tag: "Delay", at: t0 + h },
      warnUntil: t0,
    }
    const data = recordAttempt(job, timed, 7, t0)
    expect(data.attemptCount).toBe(1)
    expect(data.attempts).toEqual([
      { at: t0, serial: 7, delivered: 0, code: "CERT_UNTRUSTED", server: "mx.bank.example:25" },
    ])
    expect(data.warned).toBe(true)
    expect(data.nextAttemptAt).toBe(t0 + h)
  })

  it("records no code when every recipient got its 250", () => {
    const applied = { ...transient([]), delivered: 2 }
    const data = recordAttempt(job, { applied, next: { _tag: "Done" }, warnUntil: undefined }, 7, t0)
    expect(data.attempts[0]?.code).toBeUndefined()
    expect(data.nextAttemptAt).toBeUndefined()
  })
})

describe("renderLogLine", () => {
  it("names the attempt, serial, server, cause, counts, next point and the reports", () => {
    const timed: Timed = {
      applied: transient(["a@bank.example"]),
      next: { _tag: "Delay", at: t0 + h },
      warnUntil: t0,
    }
    const line = renderLogLine(timed, [{ kind: "delay", recipients: [] }], 3, 7, t0)
    expect(line).toBe(
      `${new Date(t0).toISOString()} | attempt 3 | serial 7 | server mx.bank.example:25 | CERT_UNTRUSTED 4.7.5 | delivered 0 | next ${new Date(t0 + h).toISOString()} | delay-dsn`,
    )
  })

  it("says when the message was sent with REQUIRETLS, or with TLS-Required: No", () => {
    const timed: Timed = { applied: transient(["a@bank.example"]), next: { _tag: "Done" }, warnUntil: t0 }
    expect(renderLogLine(timed, [], 1, 7, t0, { requireTls: true })).toContain(" | requiretls | ")
    expect(renderLogLine(timed, [], 1, 7, t0, { tlsRequiredNo: true })).toContain(" | tls-required-no | ")
    expect(renderLogLine(timed, [], 1, 7, t0)).not.toContain("requiretls")
  })
})

describe("a failure's structured reason", () => {
  const pinMismatch = new DeliveryFailed({
    code: "CERT_PIN_MISMATCH",
    status: "4.7.5",
    server: "mx.bank.example:25",
    detail: "no configured pin matches",
    reason: {
      _tag: "PinMismatch",
      observedPin: "sha256/new",
      configuredPins: ["sha256/old"],
      looksLike: "same-key-renewed",
      comparedWith: "previous-certificate",
      pinToAdd: "sha256/new",
    },
  })

  it("is kept as data in the last failure, and rendered into the DSN text and the log line from its fields", () => {
    const applied = applyFailure(job, pinMismatch, t0)
    expect(applied.lastFailure?.reason).toEqual(pinMismatch.reason)
    const timed = applyTimeline(job, applied, retry, t0 + 4 * h + m)
    const [delay] = reportsOwed(job, timed, t0 + 4 * h + m)
    expect(delay?.recipients[0]?.detail).toBe(
      "no configured pin matches; looks like same-key-renewed; if legitimate add pin sha256/new",
    )
    expect(renderLogLine(timed, [], 1, 7, t0)).toContain(
      '| detail "no configured pin matches; looks like same-key-renewed; if legitimate add pin sha256/new" |',
    )
  })

  it("takes the retry class from the catalog, and an open breaker always defers", () => {
    expect(pinMismatch.retry).toBe("defer")
    expect(new DeliveryFailed({ code: "SMTP_PERMANENT", status: "5.7.1" }).retry).toBe("bounce")
    const open = new DeliveryFailed({
      code: "CONNECT_REFUSED",
      status: "4.4.1",
      reason: { _tag: "CircuitOpen", openUntil: t0 + m, consecutiveFailures: 5 },
    })
    expect(open.retry).toBe("defer")
    expect(applyFailure(job, open, t0).lastFailure?.reason).toEqual(open.reason)
  })

  it("survives the job data's schema (what bull-board and the CLI read back)", () => {
    const data = recordAttempt(
      job,
      {
        applied: applyFailure(job, pinMismatch, t0),
        next: { _tag: "Delay", at: t0 + h },
        warnUntil: undefined,
      },
      7,
      t0,
    )
    const decoded = decodeJobData(JSON.parse(JSON.stringify(data)))
    expect(decoded._tag === "Right" && decoded.right.lastFailure?.reason).toEqual(pinMismatch.reason)
    const forged = {
      ...data,
      lastFailure: { ...data.lastFailure, reason: { _tag: "PinMismatch", pinToAdd: 1 } },
    }
    expect(decodeJobData(forged)._tag).toBe("Left")
  })
})

describe("the policy source of a failure", () => {
  it("names the standard that required TLS in the DSN text; a partner policy or none adds nothing", () => {
    const dane = new DeliveryFailed({
      code: "DANE_TLSA_MISMATCH",
      status: "4.7.5",
      server: "mx.bank.example:25",
      detail: "NO_MATCH",
      source: "dane",
    })
    const at = t0 + 4 * h + m
    const [delay] = reportsOwed(job, applyTimeline(job, applyFailure(job, dane, at), retry, at), at)
    expect(delay?.recipients[0]?.detail).toBe("NO_MATCH; TLS required by the recipient's DANE (RFC 7672)")
    const partnerFailure = new DeliveryFailed({ ...dane, code: "CERT_UNTRUSTED", source: "partner" })
    expect(applyFailure(job, partnerFailure, at).lastFailure).toMatchObject({
      source: "partner",
      detail: "NO_MATCH",
    })
    const [partnerDelay] = reportsOwed(
      job,
      applyTimeline(job, applyFailure(job, partnerFailure, at), retry, at),
      at,
    )
    expect(partnerDelay?.recipients[0]?.detail).toBe("NO_MATCH")
  })
})
