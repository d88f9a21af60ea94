/**
 * `DeliveryStats` against a real Redis, each test on its own key prefix (deleted after): one
 * outcome recorded and read back per partner and per policy source, the list of domains whose
 * DANE or MTA-STS authentication failed (which failures it keeps, the newest per domain, trimmed
 * to the last 200 domains) and the time to live of the keys; over queue shards, each outcome
 * under its shard's tag and every shard read back as one (sums, the newest last record and
 * failure, the newest 200 failing domains of all); and what a real worker records for a domain
 * without an agreement whose DANE authentication failed.
 */
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { deletePrefix, redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  AUTH_FAILED_KEEP,
  DeliveryFailed,
  type DeliveryRecord,
  DeliveryStats,
  type DeliveryStatsShape,
  Enqueue,
  makeDeliveryStats,
  makeLayout,
} from "../src"
import { eventually, partner, policySet, policyViewLayer, queueLayers, recordingDeliverer } from "./harness"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const NOW = Date.UTC(2025, 5, 2, 10, 30)

/** A happy-path outcome: one recipient delivered to a domain without an agreement, over DANE. */
const outcome = (overrides: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
  partner: "-",
  domain: "dane.example",
  source: "dane",
  at: NOW,
  delivered: 1,
  deferred: 0,
  bounced: 0,
  code: undefined,
  server: "mx.dane.example:25",
  tls: "TLSv1.3",
  ...overrides,
})

const daneMismatch = (overrides: Partial<DeliveryRecord> = {}) =>
  outcome({ delivered: 0, deferred: 1, code: "DANE_TLSA_MISMATCH", ...overrides })

/** Runs `f` with the stats and the raw client on a fresh prefix, and deletes the prefix after. */
const withStats = <A>(
  f: (stats: DeliveryStatsShape, client: RedisClient["Type"]) => Effect.Effect<A, unknown>,
  shards = 1,
) => {
  const prefix = uniquePrefix("stats")
  return Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* RedisClient
      return yield* f(makeDeliveryStats(client, makeLayout(prefix, shards)), client).pipe(
        Effect.ensuring(Effect.ignore(deletePrefix(prefix))),
      )
    }).pipe(Effect.scoped, Effect.provide(redisLayer(redis.url, prefix))),
  )
}

describe("DeliveryStats with a real Redis", () => {
  it("counts every outcome per policy source, and keeps the partner figures as before", async () => {
    const { sources, health } = await withStats((stats) =>
      Effect.gen(function* () {
        yield* stats.record(outcome(), 0)
        yield* stats.record(outcome({ domain: "other.example", delivered: 2 }), 0)
        yield* stats.record(outcome({ partner: "bank", domain: "bank.example", source: "partner" }), 0)
        yield* stats.record(
          outcome({
            domain: "plain.example",
            source: "none",
            delivered: 1,
            deferred: 1,
            code: "SMTP_TRANSIENT",
          }),
          0,
        )
        yield* stats.record(
          outcome({ domain: "sts.example", source: "mta-sts", delivered: 0, bounced: 3 }),
          0,
        )
        // No session attempted: no source to count it under.
        yield* stats.record(
          outcome({ source: undefined, delivered: 0, deferred: 1, code: "DNS_NO_ROUTE" }),
          0,
        )
        // Older than the 24-hour window.
        yield* stats.record(outcome({ at: NOW - 26 * 3_600_000, delivered: 5 }), 0)
        return { sources: yield* stats.policySources(NOW), health: yield* stats.health(NOW) }
      }),
    )
    expect(sources.counts).toEqual({
      partner: { delivered: 1, deferred: 0, bounced: 0 },
      dane: { delivered: 3, deferred: 0, bounced: 0 },
      "mta-sts": { delivered: 0, deferred: 0, bounced: 3 },
      none: { delivered: 1, deferred: 1, bounced: 0 },
    })
    expect(health.map((h) => [h.partner, h.delivered, h.deferred, h.bounced])).toEqual([
      ["-", 4, { SMTP_TRANSIENT: 1, DNS_NO_ROUTE: 1 }, { SMTP_PERMANENT: 3 }],
      ["bank", 1, {}, {}],
    ])
    expect(health[1]!.last).toMatchObject({ partner: "bank", domain: "bank.example", source: "partner" })
  })

  it("lists a failed DANE domain with its code, time and server", async () => {
    const { authFailures } = await withStats((stats) =>
      Effect.zipRight(stats.record(daneMismatch(), 0), stats.policySources(NOW)),
    )
    expect(authFailures).toEqual([
      {
        domain: "dane.example",
        code: "DANE_TLSA_MISMATCH",
        at: NOW,
        server: "mx.dane.example:25",
        source: "dane",
      },
    ])
  })

  it("lists the standards' verdicts and any failure on a DANE or MTA-STS hop, nothing else", async () => {
    const { authFailures } = await withStats((stats) =>
      Effect.gen(function* () {
        yield* stats.record(
          daneMismatch({ domain: "bogus.example", code: "DNSSEC_BOGUS", source: undefined }),
          0,
        )
        yield* stats.record(
          daneMismatch({ domain: "sts.example", code: "MTA_STS_MX_MISMATCH", source: "mta-sts" }),
          0,
        )
        yield* stats.record(
          daneMismatch({ domain: "sts-hop.example", code: "CERT_EXPIRED", source: "mta-sts" }),
          0,
        )
        yield* stats.record(
          daneMismatch({ domain: "bounce.example", code: undefined, deferred: 0, bounced: 1 }),
          0,
        )
        // Not listed: a failure on a partner or unauthenticated hop, and a DANE delivery.
        yield* stats.record(
          daneMismatch({ domain: "partner.example", code: "CERT_EXPIRED", source: "partner" }),
          0,
        )
        yield* stats.record(
          daneMismatch({ domain: "plain.example", code: "SMTP_TRANSIENT", source: "none" }),
          0,
        )
        yield* stats.record(outcome({ domain: "ok.example" }), 0)
        return yield* stats.policySources(NOW)
      }),
    )
    expect(authFailures.map((f) => [f.domain, f.code]).sort()).toEqual([
      ["bogus.example", "DNSSEC_BOGUS"],
      ["bounce.example", "SMTP_PERMANENT"],
      ["sts-hop.example", "CERT_EXPIRED"],
      ["sts.example", "MTA_STS_MX_MISMATCH"],
    ])
  })

  it("keeps each domain's newest failure, even when an older one is written after it", async () => {
    const { authFailures } = await withStats((stats) =>
      Effect.gen(function* () {
        yield* stats.record(daneMismatch({ at: NOW - 60_000 }), 0)
        yield* stats.record(daneMismatch({ code: "DNSSEC_BOGUS", server: "mx2.dane.example:25" }), 0)
        yield* stats.record(daneMismatch({ at: NOW - 120_000, code: "CERT_EXPIRED" }), 0)
        return yield* stats.policySources(NOW)
      }),
    )
    expect(authFailures).toEqual([
      {
        domain: "dane.example",
        code: "DNSSEC_BOGUS",
        at: NOW,
        server: "mx2.dane.example:25",
        source: "dane",
      },
    ])
  })

  it("keeps the last 200 domains, newest first, in the sorted set and the hash alike", async () => {
    const extra = 5
    const { authFailures, zcard, hlen } = await withStats((stats, client) =>
      Effect.gen(function* () {
        for (let i = 0; i < AUTH_FAILED_KEEP + extra; i++)
          yield* stats.record(
            daneMismatch({ domain: `d${i}.example`, at: NOW - (AUTH_FAILED_KEEP + extra - i) }),
            0,
          )
        const { authFailures } = yield* stats.policySources(NOW)
        const zcard = yield* client.call("ZCARD", client.keys.key("stats", "auth-failed"))
        const hlen = yield* client.call("HLEN", client.keys.key("stats", "auth-failed", "last"))
        return { authFailures, zcard, hlen }
      }),
    )
    expect([zcard, hlen, authFailures.length]).toEqual([AUTH_FAILED_KEEP, AUTH_FAILED_KEEP, AUTH_FAILED_KEEP])
    expect(authFailures[0]!.domain).toBe(`d${AUTH_FAILED_KEEP + extra - 1}.example`)
    expect(authFailures.at(-1)!.domain).toBe(`d${extra}.example`)
    expect(authFailures.map((f) => f.domain)).not.toContain("d4.example")
  })

  it("gives the per-source buckets and the failure list a time to live", async () => {
    const ttls = await withStats((stats, client) =>
      Effect.gen(function* () {
        yield* stats.record(daneMismatch({ delivered: 1 }), 0)
        const keys = (yield* client.call("KEYS", `${client.keys.tag}:*`)) as ReadonlyArray<string>
        const ttls: Record<string, number> = {}
        for (const key of keys)
          ttls[key.slice(client.keys.tag.length + 1)] = Number(yield* client.call("TTL", key))
        return ttls
      }),
    )
    const hour = Math.floor(NOW / 3_600_000)
    expect(Object.keys(ttls).sort()).toEqual(
      [
        `stats:h:-:${hour}`,
        "stats:last:-",
        "stats:partners",
        `stats:sources:${hour}`,
        "stats:auth-failed",
        "stats:auth-failed:last",
      ].sort(),
    )
    const within = (key: string, max: number) =>
      expect([key, ttls[key]! > 0 && ttls[key]! <= max]).toEqual([key, true])
    within(`stats:sources:${hour}`, 26 * 3600)
    within("stats:auth-failed", 7 * 86_400)
    within("stats:auth-failed:last", 7 * 86_400)
  })

  it("writes each outcome under its own shard's tag and reads every shard back as one", async () => {
    const { health, sources, tags } = await withStats(
      (stats, client) =>
        Effect.gen(function* () {
          yield* stats.record(outcome(), 0)
          yield* stats.record(outcome({ domain: "other.example", delivered: 2, at: NOW - 60_000 }), 1)
          yield* stats.record(outcome({ partner: "bank", domain: "bank.example", source: "partner" }), 2)
          yield* stats.record(daneMismatch({ domain: "x.example", at: NOW - 120_000 }), 1)
          yield* stats.record(
            daneMismatch({ domain: "x.example", at: NOW - 30_000, code: "DNSSEC_BOGUS" }),
            2,
          )
          const keysOf = (tag: string) =>
            client
              .call("KEYS", `${tag}:*`)
              .pipe(Effect.map((keys) => (keys as Array<string>).map((k) => k.slice(tag.length + 1)).sort()))
          const shardTag = (shard: number) =>
            shard === 0 ? client.keys.tag : `${client.keys.tag.slice(0, -1)}:${shard}}`
          return {
            health: yield* stats.health(NOW),
            sources: yield* stats.policySources(NOW),
            tags: [yield* keysOf(shardTag(0)), yield* keysOf(shardTag(1)), yield* keysOf(shardTag(2))],
          }
        }),
      3,
    )
    const hour = Math.floor(NOW / 3_600_000)
    // On a Cluster each shard's keys sit with its queue on its own master.
    expect(tags[0]).toEqual([`stats:h:-:${hour}`, "stats:last:-", "stats:partners", `stats:sources:${hour}`])
    expect(tags[1]).toContain("stats:auth-failed")
    expect(tags[2]).toContain(`stats:h:bank:${hour}`)
    expect(tags[0]!.concat(tags[1]!)).not.toContain(`stats:h:bank:${hour}`)
    expect(health.map((h) => [h.partner, h.delivered, h.deferred, h.bounced])).toEqual([
      ["-", 3, { DANE_TLSA_MISMATCH: 1, DNSSEC_BOGUS: 1 }, {}],
      ["bank", 1, {}, {}],
    ])
    // The newest outcome of any shard: shard 0's delivery (shard 2's failure came 30 s before it).
    expect(health[0]!.last).toMatchObject({ domain: "dane.example", at: NOW })
    expect(sources.counts.dane).toEqual({ delivered: 3, deferred: 2, bounced: 0 })
    expect(sources.counts.partner).toEqual({ delivered: 1, deferred: 0, bounced: 0 })
    // One entry per domain, its newest failure, whichever shard holds it.
    expect(sources.authFailures).toEqual([
      expect.objectContaining({ domain: "x.example", code: "DNSSEC_BOGUS", at: NOW - 30_000 }),
    ])
  })

  it("keeps the newest 200 failing domains of all shards together", async () => {
    const perShard = 150
    const authFailures = await withStats(
      (stats) =>
        Effect.gen(function* () {
          for (let i = 0; i < perShard; i++) {
            yield* stats.record(daneMismatch({ domain: `old${i}.example`, at: NOW - 10_000 + i }), 0)
            yield* stats.record(daneMismatch({ domain: `new${i}.example`, at: NOW + i }), 1)
          }
          return (yield* stats.policySources(NOW)).authFailures
        }),
      2,
    )
    expect(authFailures).toHaveLength(AUTH_FAILED_KEEP)
    expect(authFailures[0]!.domain).toBe(`new${perShard - 1}.example`)
    expect(authFailures.filter((f) => f.domain.startsWith("new"))).toHaveLength(perShard)
    // The rest are the newest of shard 0's.
    expect(authFailures.at(-1)!.domain).toBe(`old${perShard - (AUTH_FAILED_KEEP - perShard)}.example`)
  })

  it("records the domain and source of a worker's outcome, also for a domain without an agreement", async () => {
    const deliverer = recordingDeliverer(() =>
      Either.left(
        new DeliveryFailed({
          code: "DANE_TLSA_MISMATCH",
          status: "4.7.5",
          server: "mx.dane.example:25",
          source: "dane",
        }),
      ),
    )
    const prefix = uniquePrefix("stats-worker")
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix,
      policy: policyViewLayer(policySet([partner("bank", ["bank.example"])])),
      deliverer: deliverer.layer,
    })
    const sources = await Effect.runPromise(
      Effect.gen(function* () {
        const queue = yield* Enqueue
        const stats = yield* DeliveryStats
        yield* queue.enqueue({
          sender: "alice@customer.example",
          recipients: ["a@dane.example", "b@dane.example"],
          body: Buffer.from("From: alice@customer.example\r\nSubject: hi\r\n\r\nhello\r\n"),
        })
        return yield* eventually(
          stats
            .policySources(Date.now())
            .pipe(
              Effect.map((s) => (s.authFailures.length > 0 && s.counts.dane.deferred > 0 ? s : undefined)),
            ),
        )
      }).pipe(Effect.scoped, Effect.provide(worker)),
    ).finally(() =>
      Effect.runPromise(deletePrefix(prefix).pipe(Effect.provide(redisLayer(redis.url, prefix)))),
    )
    expect(sources.counts.dane).toEqual({ delivered: 0, deferred: 2, bounced: 0 })
    expect(sources.authFailures).toEqual([
      expect.objectContaining({
        domain: "dane.example",
        code: "DANE_TLSA_MISMATCH",
        server: "mx.dane.example:25",
        source: "dane",
      }),
    ])
  })
})
