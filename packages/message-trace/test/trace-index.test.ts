/**
 * The trace index on a real redis-server: a message's lines kept as its record and found by
 * every dimension (sender, recipient, domain, Message-ID, queue id, partner, code, time), the
 * filters combined, newest first with a limit, and a malformed stored line left out.
 * Each test on its own key prefix.
 */
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { Effect, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DEFAULT_RETENTION_MS, makeTraceIndex, type TraceFilter, type TraceIndexShape } from "../src"
import { attempt, deferred, dsn, sessionIn } from "./lines"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const NOW = Date.now()
const MIN = 60_000

const run = <A>(body: (trace: TraceIndexShape, client: RedisClient["Type"]) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* RedisClient
      return yield* body(
        makeTraceIndex(client, { relay: "relay-a", retentionMs: DEFAULT_RETENTION_MS }),
        client,
      )
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(redisLayer(redis.url, uniquePrefix("trace"))))),
  )

const ids = (trace: TraceIndexShape, filter: Omit<TraceFilter, "limit">) =>
  trace.search({ limit: 50, ...filter }).pipe(Effect.map((r) => r.records.map((m) => m.queueId)))

describe("TraceIndex", () => {
  it("keeps a message's lines as its record, in order, with the relay that wrote them", async () => {
    const record = await run((trace) =>
      Effect.gen(function* () {
        yield* trace.record(sessionIn("q1", NOW - 10 * MIN))
        yield* trace.record(deferred("q1", NOW - 9 * MIN))
        yield* trace.record(dsn("q1", NOW - 8 * MIN))
        yield* trace.record(attempt("q1", NOW - 4 * MIN, { attempt: 2 }))
        return yield* trace.show("q1")
      }),
    )
    const { lines, at } = Option.getOrThrow(record)
    expect(lines.map((l) => l.event)).toEqual(["session-in", "attempt", "dsn", "attempt"])
    expect(lines.every((l) => l.relay === "relay-a")).toBe(true)
    expect(lines[1]).toEqual({ ...deferred("q1", NOW - 9 * MIN), relay: "relay-a" })
    expect(at).toBe(NOW - 4 * MIN)
  })

  it("finds a message by sender, recipient, domains, Message-ID, queue id, partner and code", async () => {
    const found = await run((trace) =>
      Effect.gen(function* () {
        yield* trace.record(sessionIn("q1", NOW - 10 * MIN))
        yield* trace.record(deferred("q1", NOW - 9 * MIN))
        yield* trace.record(
          sessionIn("q2", NOW - 5 * MIN, {
            sender: "carol@other.example",
            recipients: ["dave@insurer.example"],
            messageId: "m2@other.example",
          }),
        )
        return {
          from: yield* ids(trace, { from: "Alice@Customer.example" }),
          fromDomain: yield* ids(trace, { from: "@customer.example" }),
          fromDomainBare: yield* ids(trace, { from: "other.example" }),
          to: yield* ids(trace, { to: "bob@bank.example" }),
          toDomain: yield* ids(trace, { to: "insurer.example" }),
          messageId: yield* ids(trace, { messageId: "<m2@other.example>" }),
          queueId: yield* ids(trace, { queueId: "q2" }),
          partner: yield* ids(trace, { partner: "bank" }),
          code: yield* ids(trace, { code: "cert_expired" }),
          nothing: yield* ids(trace, { to: "nobody@bank.example" }),
          all: yield* ids(trace, {}),
        }
      }),
    )
    expect(found).toEqual({
      from: ["q1"],
      fromDomain: ["q1"],
      fromDomainBare: ["q2"],
      to: ["q1"],
      toDomain: ["q2"],
      messageId: ["q2"],
      queueId: ["q2"],
      partner: ["q1"],
      code: ["q1"],
      nothing: [],
      all: ["q2", "q1"],
    })
  })

  it("combines filters (AND), the queue id with the others too", async () => {
    const found = await run((trace) =>
      Effect.gen(function* () {
        yield* trace.record(deferred("q1", NOW - 9 * MIN))
        yield* trace.record(attempt("q2", NOW - 8 * MIN))
        yield* trace.record(deferred("q3", NOW - 7 * MIN, { partner: "insurer", domain: "insurer.example" }))
        return {
          bankExpired: yield* ids(trace, { partner: "bank", code: "CERT_EXPIRED" }),
          bankToBob: yield* ids(trace, { partner: "bank", to: "bob@bank.example" }),
          q2Expired: yield* ids(trace, { queueId: "q2", code: "CERT_EXPIRED" }),
          q1Expired: yield* ids(trace, { queueId: "q1", code: "CERT_EXPIRED" }),
        }
      }),
    )
    expect(found).toEqual({
      bankExpired: ["q1"],
      bankToBob: ["q2", "q1"],
      q2Expired: [],
      q1Expired: ["q1"],
    })
  })

  it("searches a time range by the message's newest line, newest first, up to the limit", async () => {
    const found = await run((trace) =>
      Effect.gen(function* () {
        for (let i = 0; i < 6; i++) yield* trace.record(attempt(`q${i}`, NOW - (60 - i * 10) * MIN))
        // q0's newest line is now recent: it moves up.
        yield* trace.record(attempt("q0", NOW - MIN, { attempt: 2 }))
        const limited = yield* trace.search({ limit: 2 })
        const window = yield* ids(trace, { since: NOW - 45 * MIN, until: NOW - 15 * MIN })
        const everything = yield* trace.search({ limit: 50 })
        return {
          limited: limited.records.map((r) => r.queueId),
          limitedComplete: limited.complete,
          window,
          everything: everything.records.map((r) => r.queueId),
          everythingComplete: everything.complete,
        }
      }),
    )
    expect(found).toEqual({
      limited: ["q0", "q5"],
      limitedComplete: false,
      window: ["q4", "q3", "q2"],
      everything: ["q0", "q5", "q4", "q3", "q2", "q1"],
      everythingComplete: true,
    })
  })

  it("indexes the null sender as <>, and the DSN's own delivery under it", async () => {
    const found = await run((trace) =>
      Effect.gen(function* () {
        yield* trace.record(dsn("q1", NOW - 3 * MIN))
        yield* trace.record(
          attempt("q1.delay", NOW - 2 * MIN, {
            sender: "",
            domain: "customer.example",
            partner: "local",
            recipients: [{ address: "alice@customer.example", outcome: "delivered", status: "2.0.0" }],
          }),
        )
        return { nullSender: yield* ids(trace, { from: "<>" }), original: yield* trace.show("q1") }
      }),
    )
    expect(found.nullSender).toEqual(["q1.delay"])
    expect(Option.getOrThrow(found.original).lines).toMatchObject([{ event: "dsn", dsnQueueId: "q1.delay" }])
  })

  it("leaves a stored line that does not decode out of the record", async () => {
    const record = await run((trace, client) =>
      Effect.gen(function* () {
        yield* trace.record(sessionIn("q1", NOW - 2 * MIN))
        yield* client.call("RPUSH", client.keys.key("trace", "msg", "q1"), "{not json", '{"event":"attempt"}')
        yield* trace.record(attempt("q1", NOW - MIN))
        return yield* trace.show("q1")
      }),
    )
    expect(Option.getOrThrow(record).lines.map((l) => l.event)).toEqual(["session-in", "attempt"])
  })

  it("keeps the first line and the newest others of a message retried many times", async () => {
    const lines = await run((_, client) =>
      Effect.gen(function* () {
        const trace = makeTraceIndex(client, { relay: "r", retentionMs: DEFAULT_RETENTION_MS, maxLines: 5 })
        yield* trace.record(sessionIn("q1", NOW - 60 * MIN))
        for (let n = 1; n <= 8; n++) yield* trace.record(deferred("q1", NOW - (60 - n) * MIN, { attempt: n }))
        return Option.getOrThrow(yield* trace.show("q1")).lines
      }),
    )
    expect(lines.map((l) => (l.event === "attempt" ? l.attempt : l.event))).toEqual([
      "session-in",
      5,
      6,
      7,
      8,
    ])
  })
})
