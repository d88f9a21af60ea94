/**
 * The certificate watch against a real Redis (written by `DeliveryStats.record`, as the worker
 * does): a partner server's certificate kept, a sighting of the same one moving only lastSeen,
 * each kind of change diagnosed, a late older sighting ignored, two servers of one partner kept
 * apart, and mail without an agreement not watched.
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

const withStats = <A>(f: (stats: DeliveryStatsShape) => Effect.Effect<A, unknown>) => {
  const prefix = uniquePrefix("watch")
  return Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* RedisClient
      return yield* f(makeDeliveryStats(client)).pipe(Effect.ensuring(Effect.ignore(deletePrefix(prefix))))
    }).pipe(Effect.scoped, Effect.provide(redisLayer(redis.url, prefix))),
  )
}

describe("the certificate watch", () => {
  it("keeps the certificate seen, and a second sighting of the same one moves only lastSeen", async () => {
    const watched = await withStats((stats) =>
      Effect.gen(function* () {
        yield* stats.record(seen(cert(), T0))
        yield* stats.record(seen(cert(), T0 + DAY))
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
        yield* stats.record(seen(cert(), T0))
        yield* stats.record(seen(next, T0 + DAY))
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
        yield* stats.record(seen(cert({ spkiPin: "sha256/NEW" }), T0 + DAY))
        yield* stats.record(seen(cert(), T0))
        return yield* stats.certificates
      }),
    )
    expect(entry?.certificate.spkiPin).toBe("sha256/NEW")
    expect(entry).not.toHaveProperty("change")
  })

  it("keeps two servers of one partner apart, and does not watch mail without an agreement", async () => {
    const watched = await withStats((stats) =>
      Effect.gen(function* () {
        yield* stats.record(seen(cert(), T0))
        yield* stats.record(seen(cert({ spkiPin: "sha256/MX2" }), T0, { server: "smtp-in2.bank.example:25" }))
        yield* stats.record(seen(cert(), T0 + DAY))
        yield* stats.record(
          seen(cert({ spkiPin: "sha256/MX2" }), T0 + DAY, { server: "smtp-in2.bank.example:25" }),
        )
        yield* stats.record(seen(cert(), T0, { partner: "-", domain: "plain.example" }))
        return yield* stats.certificates
      }),
    )
    expect(watched.map((w) => [w.server, w.certificate.spkiPin, w.change])).toEqual([
      ["smtp-in.bank.example:25", "sha256/AAAA", undefined],
      ["smtp-in2.bank.example:25", "sha256/MX2", undefined],
    ])
  })
})
