/**
 * The certificate watch against a real Redis (written by `DeliveryStats.record`, as the worker
 * does): a partner server's certificate kept, a sighting of the same one moving only lastSeen,
 * each kind of change diagnosed, a late older sighting ignored, two servers of one partner kept
 * apart, and mail without an agreement not watched; over queue shards, one server's entries read
 * as one (a change recorded in one shard, diagnosed across two, an older shard not winning).
 */
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { deletePrefix, redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type DeliveryRecord,
  type DeliveryStatsShape,
  makeDeliveryStats,
  makeLayout,
  type ObservedCertificate,
} from "../src"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const T0 = Date.UTC(2026, 10, 1)
const DAY = 86_400_000
const cert = (overrides: Partial<ObservedCertificate> = {}): ObservedCertificate => ({
  subject: "CN=smtp-in.bank.example",
  issuer: "CN=Bank CA",
  notAfter: "2026-12-10T00:00:00.000Z",
  spkiPin: "sha256/AAAA",
  ...overrides,
})
const seen = (
  peer: ObservedCertificate,
  at: number,
  overrides: Partial<DeliveryRecord> = {},
): DeliveryRecord => ({
  partner: "bank",
  domain: "bank.example",
  source: "partner",
  at,
  delivered: 1,
  deferred: 0,
  bounced: 0,
  code: undefined,
  server: "smtp-in.bank.example:25",
  tls: "TLSv1.3",
  peer,
  ...overrides,
})

const withStats = <A>(f: (stats: DeliveryStatsShape) => Effect.Effect<A, unknown>, shards = 1) => {
  const prefix = uniquePrefix("watch")
  return Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* RedisClient
      return yield* f(makeDeliveryStats(client, makeLayout(prefix, shards))).pipe(
        Effect.ensuring(Effect.ignore(deletePrefix(prefix))),
      )
    }).pipe(Effect.scoped, Effect.provide(redisLayer(redis.url, prefix))),
  )
}

describe("the certificate watch", () => {
  it("keeps the certificate seen, and a second sighting of the same one moves only lastSeen", async () => {
    const watched = await withStats((stats) =>
      Effect.gen(function* () {
        yield* stats.record(seen(cert(), T0), 0)
        yield* stats.record(seen(cert(), T0 + DAY), 0)
        return yield* stats.certificates
      }),
    )
    expect(watched).toEqual([
      {
        partner: "bank",
        server: "smtp-in.bank.example:25",
        certificate: cert(),
        firstSeen: T0,
        lastSeen: T0 + DAY,
      },
    ])
  })

  it.each([
    ["renewed-same-key", cert({ notAfter: "2027-12-10T00:00:00.000Z" })],
    ["new-key", cert({ notAfter: "2027-12-10T00:00:00.000Z", spkiPin: "sha256/BBBB" })],
    ["new-issuer", cert({ issuer: "CN=Other Provider CA", spkiPin: "sha256/CCCC" })],
  ] as const)("diagnoses %s, with the certificate before", async (kind, next) => {
    const [entry] = await withStats((stats) =>
      Effect.gen(function* () {
        yield* stats.record(seen(cert(), T0), 0)
        yield* stats.record(seen(next, T0 + DAY), 0)
        return yield* stats.certificates
      }),
    )
    expect(entry).toEqual({
      partner: "bank",
      server: "smtp-in.bank.example:25",
      certificate: next,
      firstSeen: T0,
      lastSeen: T0 + DAY,
      change: { kind, at: T0 + DAY, previous: cert() },
    })
  })

  it("ignores a sighting older than the one kept (a worker that wrote late)", async () => {
    const [entry] = await withStats((stats) =>
      Effect.gen(function* () {
        yield* stats.record(seen(cert({ spkiPin: "sha256/NEW" }), T0 + DAY), 0)
        yield* stats.record(seen(cert(), T0), 0)
        return yield* stats.certificates
      }),
    )
    expect(entry?.certificate.spkiPin).toBe("sha256/NEW")
    expect(entry).not.toHaveProperty("change")
  })

  it("keeps two servers of one partner apart, and does not watch mail without an agreement", async () => {
    const watched = await withStats((stats) =>
      Effect.gen(function* () {
        yield* stats.record(seen(cert(), T0), 0)
        yield* stats.record(
          seen(cert({ spkiPin: "sha256/MX2" }), T0, { server: "smtp-in2.bank.example:25" }),
          0,
        )
        yield* stats.record(seen(cert(), T0 + DAY), 0)
        yield* stats.record(
          seen(cert({ spkiPin: "sha256/MX2" }), T0 + DAY, { server: "smtp-in2.bank.example:25" }),
          0,
        )
        yield* stats.record(seen(cert(), T0, { partner: "-", domain: "plain.example" }), 0)
        return yield* stats.certificates
      }),
    )
    expect(watched.map((w) => [w.server, w.certificate.spkiPin, w.change])).toEqual([
      ["smtp-in.bank.example:25", "sha256/AAAA", undefined],
      ["smtp-in2.bank.example:25", "sha256/MX2", undefined],
    ])
  })
})

describe("the certificate watch over queue shards (each shard watches its own mail)", () => {
  const next = cert({ notAfter: "2027-12-10T00:00:00.000Z", spkiPin: "sha256/BBBB" })

  it("a change one shard recorded is one entry, changed at its first sighting in any shard", async () => {
    const watched = await withStats(
      (stats) =>
        Effect.gen(function* () {
          yield* stats.record(seen(cert(), T0), 0)
          // Shard 1 meets the server only after the change: the new certificate is all it knows.
          yield* stats.record(seen(next, T0 + DAY), 1)
          yield* stats.record(seen(next, T0 + 2 * DAY), 0)
          return yield* stats.certificates
        }),
      2,
    )
    expect(watched).toEqual([
      {
        partner: "bank",
        server: "smtp-in.bank.example:25",
        certificate: next,
        firstSeen: T0,
        lastSeen: T0 + 2 * DAY,
        change: { kind: "new-key", at: T0 + DAY, previous: cert() },
      },
    ])
  })

  it("diagnoses a change no shard saw itself: the old certificate only in one, the new only in another", async () => {
    const renewed = cert({ issuer: "CN=Other Provider CA", spkiPin: "sha256/CCCC" })
    const [entry] = await withStats(
      (stats) =>
        Effect.gen(function* () {
          yield* stats.record(seen(cert(), T0), 2)
          yield* stats.record(seen(renewed, T0 + DAY), 1)
          return yield* stats.certificates
        }),
      3,
    )
    expect(entry).toEqual({
      partner: "bank",
      server: "smtp-in.bank.example:25",
      certificate: renewed,
      firstSeen: T0,
      lastSeen: T0 + DAY,
      change: { kind: "new-issuer", at: T0 + DAY, previous: cert() },
    })
  })

  it("a shard whose last sighting is older does not make its certificate current again", async () => {
    const [entry] = await withStats(
      (stats) =>
        Effect.gen(function* () {
          yield* stats.record(seen(cert(), T0), 0)
          yield* stats.record(seen(next, T0 + DAY), 0)
          // Written after, seen before: shard 1's last sighting of the old certificate.
          yield* stats.record(seen(cert(), T0 + DAY / 2), 1)
          return yield* stats.certificates
        }),
      2,
    )
    expect(entry?.certificate).toEqual(next)
    expect(entry?.change).toEqual({ kind: "new-key", at: T0 + DAY, previous: cert() })
  })
})
