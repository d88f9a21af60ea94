/**
 * `ReceivedReports` against a real Redis, each test on its own key prefix (deleted after): a
 * report stored and read back per day and as a recent report; the same report-id from the same
 * organisation stored once (another organisation's same id is another report); refused reports
 * counted by reason; the time to live of every key; and the cap on recent reports.
 */
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { deletePrefix, redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { Effect, Layer, TestClock, TestContext } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  KEEP_REPORTS,
  RETENTION_DAYS,
  ReceivedReports,
  type ReceivedReportsShape,
  receiveMailReport,
} from "../src/inbound"
import type { TlsReport } from "../src/report"
import { gzipPart, reportMail } from "./report-mail"
import { sampleReport } from "./rfc-example"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const RECEIVED = Date.UTC(2025, 5, 2, 3, 0)

const withReports = <A>(
  f: (
    reports: ReceivedReportsShape,
    client: RedisClient["Type"],
  ) => Effect.Effect<A, unknown, ReceivedReports>,
) => {
  const prefix = uniquePrefix("tlsrpt-in")
  const layer = ReceivedReports.layer.pipe(Layer.provideMerge(redisLayer(redis.url, prefix)))
  return Effect.runPromise(
    Effect.gen(function* () {
      const reports = yield* ReceivedReports
      const client = yield* RedisClient
      return yield* f(reports, client).pipe(Effect.ensuring(Effect.ignore(deletePrefix(prefix))))
    }).pipe(Effect.scoped, Effect.provide(layer), Effect.provide(TestContext.TestContext)),
  )
}

const report = (overrides: Partial<TlsReport> = {}) => sampleReport(overrides)

describe("ReceivedReports with a real Redis", () => {
  it("stores a report and shows it per organisation, day and failure type, and in the recent list", async () => {
    const { outcome, daily, recent } = await withReports((reports) =>
      Effect.gen(function* () {
        const outcome = yield* reports.store(report(), "https", RECEIVED)
        return { outcome, daily: yield* reports.daily(RECEIVED), recent: yield* reports.recent(10) }
      }),
    )
    expect(outcome).toBe("stored")
    expect(daily).toEqual({
      rows: [
        {
          day: "2025-06-01",
          organization: "Reporter Inc.",
          policyDomain: "our.example",
          reports: 1,
          successful: 40,
          failed: 2,
          failuresByType: { "certificate-expired": 2 },
        },
      ],
      overflow: {},
    })
    expect(recent).toMatchObject([
      {
        organization: "Reporter Inc.",
        reportId: "2025-06-01-our.example-1",
        day: "2025-06-01",
        start: "2025-06-01T00:00:00Z",
        end: "2025-06-01T23:59:59Z",
        via: "https",
        receivedAt: RECEIVED,
        policies: [{ type: "sts", domain: "our.example", successful: 40, failed: 2 }],
        successful: 40,
        failed: 2,
        failuresByType: { "certificate-expired": 2 },
        unregisteredTypes: [],
      },
    ])
  })

  it("stores a report sent twice once, by either channel; another organisation's same id is another report", async () => {
    const { outcomes, daily, recent } = await withReports((reports) =>
      Effect.gen(function* () {
        const outcomes = [
          yield* reports.store(report(), "https", RECEIVED),
          yield* reports.store(report(), "mailto", RECEIVED + 1000),
          yield* reports.store(report({ "organization-name": "Other Org" }), "mailto", RECEIVED + 2000),
        ]
        return { outcomes, daily: yield* reports.daily(RECEIVED), recent: yield* reports.recent(10) }
      }),
    )
    expect(outcomes).toEqual(["stored", "duplicate", "stored"])
    expect(daily.rows.map((r) => [r.organization, r.reports, r.successful, r.failed])).toEqual([
      ["Other Org", 1, 40, 2],
      ["Reporter Inc.", 1, 40, 2],
    ])
    expect(recent.map((r) => [r.organization, r.via])).toEqual([
      ["Other Org", "mailto"],
      ["Reporter Inc.", "https"],
    ])
  })

  it("adds up a day's reports of one organisation, and keeps unregistered result types by name", async () => {
    const second = report({
      "report-id": "2025-06-01-our.example-2",
      policies: [
        {
          policy: { "policy-type": "no-policy-found", "policy-domain": "our.example" },
          summary: { "total-successful-session-count": 10, "total-failure-session-count": 5 },
          "failure-details": [
            { "result-type": "starttls-not-supported", "failed-session-count": 4 },
            // A result type registered after RFC 8460 (the store takes the as-received type).
            { "result-type": "certificate-revoked" as "certificate-expired", "failed-session-count": 1 },
          ],
        },
      ],
    })
    const { daily, recent } = await withReports((reports) =>
      Effect.gen(function* () {
        yield* reports.store(report(), "https", RECEIVED)
        yield* reports.store(second, "mailto", RECEIVED + 1)
        return { daily: yield* reports.daily(RECEIVED), recent: yield* reports.recent(1) }
      }),
    )
    expect(daily.rows).toEqual([
      {
        day: "2025-06-01",
        organization: "Reporter Inc.",
        policyDomain: "our.example",
        reports: 2,
        successful: 50,
        failed: 7,
        failuresByType: { "certificate-expired": 2, "starttls-not-supported": 4, "certificate-revoked": 1 },
      },
    ])
    expect(recent[0]?.unregisteredTypes).toEqual(["certificate-revoked"])
  })

  it("counts refused reports by channel and reason on the day they arrived", async () => {
    const counts = await withReports((reports) =>
      Effect.gen(function* () {
        yield* reports.recordRejected("invalid", "mailto", RECEIVED)
        yield* reports.recordRejected("invalid", "mailto", RECEIVED + 1)
        yield* reports.recordRejected("too-large", "https", RECEIVED)
        return yield* reports.rejected(RECEIVED)
      }),
    )
    expect(counts).toEqual(
      expect.arrayContaining([
        { day: "2025-06-02", via: "mailto", reason: "invalid", count: 2 },
        { day: "2025-06-02", via: "https", reason: "too-large", count: 1 },
      ]),
    )
    expect(counts).toHaveLength(2)
  })

  it("takes the time of a received mail from the Clock and counts an invalid one as rejected", async () => {
    const { stored, rejected, recent } = await withReports((reports) =>
      Effect.gen(function* () {
        yield* TestClock.setTime(RECEIVED)
        const stored = yield* receiveMailReport(reportMail([gzipPart(report())]))
        yield* Effect.flip(receiveMailReport(reportMail([gzipPart({ ...report(), policies: [] })])))
        return { stored, rejected: yield* reports.rejected(RECEIVED), recent: yield* reports.recent(5) }
      }),
    )
    expect(stored.outcome).toBe("stored")
    expect(recent.map((r) => [r.via, r.receivedAt])).toEqual([["mailto", RECEIVED]])
    expect(rejected).toEqual([{ day: "2025-06-02", via: "mailto", reason: "invalid", count: 1 }])
  })

  it("lets every key expire after the retention period", async () => {
    const ttls = await withReports((reports, client) =>
      Effect.gen(function* () {
        yield* reports.store(report(), "https", RECEIVED)
        yield* reports.recordRejected("invalid", "https", RECEIVED)
        const keys = (yield* client.call("KEYS", client.keys.key("tlsrpt", "in", "*"))) as Array<string>
        return yield* Effect.forEach(keys.sort(), (key) =>
          Effect.map(client.call("TTL", key), (ttl) => [key.split(":").slice(3).join(":"), ttl] as const),
        )
      }),
    )
    expect(ttls.map(([name]) => name.replace(/[0-9a-f]{32}/, "<id>"))).toEqual([
      "day:2025-06-01",
      "day:2025-06-01:rows",
      "recent",
      "rejected:2025-06-02",
      "report:<id>",
      "seen:<id>",
    ])
    for (const [, ttl] of ttls) {
      expect(ttl).toBeGreaterThan(RETENTION_DAYS * 86_400 - 60)
      expect(ttl).toBeLessThanOrEqual(RETENTION_DAYS * 86_400)
    }
  })

  it(`keeps the newest ${KEEP_REPORTS} reports, and still refuses an evicted one as a duplicate`, async () => {
    const { recent, kept, again } = await withReports((reports, client) =>
      Effect.gen(function* () {
        for (let i = 0; i <= KEEP_REPORTS; i++)
          yield* reports.store(report({ "report-id": `r${i}` }), "https", RECEIVED + i)
        const summaries = (yield* client.call(
          "KEYS",
          client.keys.key("tlsrpt", "in", "report", "*"),
        )) as Array<string>
        return {
          recent: yield* reports.recent(KEEP_REPORTS + 10),
          kept: summaries.length,
          again: yield* reports.store(report({ "report-id": "r0" }), "https", RECEIVED + 5000),
        }
      }),
    )
    expect(recent).toHaveLength(KEEP_REPORTS)
    expect(recent[0]?.reportId).toBe(`r${KEEP_REPORTS}`)
    expect(recent.at(-1)?.reportId).toBe("r1")
    expect(kept).toBe(KEEP_REPORTS)
    expect(again).toBe("duplicate")
  })
})
