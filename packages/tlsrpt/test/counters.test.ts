/**
 * The fleet's session counters on a real Redis: counts per policy and failure detail, one
 * delivery's write taken once even when sent again, and the claim that lets one relay of two
 * send a day's report.
 */
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { TlsReportCounters } from "../src/counters"
import type { ReportPolicy } from "../src/report"
import type { TlsSession } from "../src/session"
import { countersLayer } from "./lab"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const AT = Date.parse("2026-11-30T10:00:00Z")
const sts: ReportPolicy = {
  "policy-type": "sts",
  "policy-string": ["version: STSv1", "mode: enforce", "mx: mx.b.example"],
  "policy-domain": "b.example",
}
const none: ReportPolicy = {
  "policy-type": "no-policy-found",
  "policy-domain": "b.example",
  "mx-host": "mx.b.example",
}
let ids = 0
const session = (policy: ReportPolicy, failure?: TlsSession["failure"], at = AT): TlsSession => ({
  id: `s${ids++}`,
  domain: "b.example",
  at,
  policy,
  failure,
})
const expired = { "result-type": "certificate-expired", "receiving-mx-hostname": "mx.b.example" } as const

const run = <A>(body: (c: TlsReportCounters["Type"]) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(Effect.flatMap(TlsReportCounters, body).pipe(Effect.provide(countersLayer(redis.url))))

describe("TlsReportCounters", () => {
  it("sums sessions per policy and failure detail, for the session's UTC day", async () => {
    const { results, domains, nextDay } = await run((c) =>
      Effect.gen(function* () {
        yield* c.record([session(sts), session(sts, expired)])
        yield* c.record([session(sts), session(none)])
        yield* c.record([session(sts, expired), session(sts, { ...expired, "receiving-ip": "192.0.2.7" })])
        yield* c.record([session(sts, undefined, Date.parse("2026-12-01T00:00:01Z"))])
        return {
          results: yield* c.results({ day: "2026-11-30", domain: "b.example" }),
          domains: yield* c.domains("2026-11-30"),
          nextDay: yield* c.results({ day: "2026-12-01", domain: "b.example" }),
        }
      }),
    )
    expect(domains).toEqual(["b.example"])
    expect(results).toEqual([
      { policy: none, summary: { "total-successful-session-count": 1, "total-failure-session-count": 0 } },
      {
        policy: sts,
        summary: { "total-successful-session-count": 2, "total-failure-session-count": 3 },
        "failure-details": [
          { ...expired, "failed-session-count": 2 },
          { ...expired, "receiving-ip": "192.0.2.7", "failed-session-count": 1 },
        ],
      },
    ])
    expect(nextDay).toMatchObject([{ summary: { "total-successful-session-count": 1 } }])
  })

  it("takes one delivery's write once, however often it is sent (a resend after a lost reply)", async () => {
    const results = await run((c) =>
      Effect.gen(function* () {
        const sessions = [session(sts), session(sts, expired)]
        yield* c.record(sessions)
        yield* c.record(sessions)
        return yield* c.results({ day: "2026-11-30", domain: "b.example" })
      }),
    )
    expect(results).toEqual([
      {
        policy: sts,
        summary: { "total-successful-session-count": 1, "total-failure-session-count": 1 },
        "failure-details": [{ ...expired, "failed-session-count": 1 }],
      },
    ])
  })

  it("lets one holder claim a day's report; done is final, a released claim can be taken again", async () => {
    const at = { day: "2026-11-30", domain: "b.example" }
    const steps = await run((c) =>
      Effect.gen(function* () {
        const first = yield* c.claim(at, "relay-a", 60_000)
        const second = yield* c.claim(at, "relay-b", 60_000)
        yield* c.release(at, "relay-b") // not b's: a's claim stays
        const stillHeld = yield* c.claim(at, "relay-b", 60_000)
        yield* c.release(at, "relay-a")
        const afterRelease = yield* c.claim(at, "relay-b", 60_000)
        yield* c.done(at, "sent")
        const afterDone = yield* c.claim(at, "relay-a", 60_000)
        return { first, second, stillHeld, afterRelease, afterDone, outcome: yield* c.outcome(at) }
      }),
    )
    expect(steps).toEqual({
      first: true,
      second: false,
      stillHeld: false,
      afterRelease: true,
      afterDone: false,
      outcome: "sent",
    })
  })
})
