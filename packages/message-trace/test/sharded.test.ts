/**
 * The trace sharded like the spool (`REDIS_SHARDS`): a message's record and index entries under
 * its own shard's hash tag, a search over every shard merged newest first with the limit kept
 * across shards, `show` in the message's shard, a DSN line in the original's record, and the
 * records a fleet wrote before it grew its shard count still found. On a real redis-server, and
 * on a real 3-master Cluster, where every line is one script in one slot and the shards' keys sit
 * on the masters their tags hash to.
 */

import type { DeliveryLogLine } from "@mailconnect/delivery-log"
import { RedisClient, shardOf, shardTag } from "@mailconnect/redis-client"
import {
  type RedisCluster,
  type RedisServer,
  redisCommand,
  startCluster,
  startRedis,
} from "@mailconnect/test-redis"
import { redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { Effect, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DEFAULT_RETENTION_MS, makeTraceIndex, type TraceIndexShape } from "../src"
import { deferred, dsn, sessionIn } from "./lines"

const NOW = Date.now()
const MIN = 60_000
const SHARDS = 3

/** `perShard` queue ids for each of `shards` shards, chosen by their hash. */
const idsPerShard = (perShard: number, shards = SHARDS): ReadonlyArray<ReadonlyArray<string>> => {
  const candidates = Array.from({ length: 400 }, (_, i) => `q${i}`)
  return Array.from({ length: shards }, (_, s) =>
    candidates.filter((id) => shardOf(id, shards) === s).slice(0, perShard),
  )
}

const withTrace = <A>(
  url: string,
  prefix: string,
  body: (
    trace: (shards: number) => TraceIndexShape,
    client: RedisClient["Type"],
  ) => Effect.Effect<A, unknown>,
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* RedisClient
      return yield* body(
        (shards) => makeTraceIndex(client, { relay: "relay-a", retentionMs: DEFAULT_RETENTION_MS, shards }),
        client,
      )
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(redisLayer(url, prefix)))),
  )

/** How a test writes its lines: one `record` each, or all in one `recordAll` (a batching writer). */
const WRITERS = ["record", "recordAll"] as const
const writeAll = (
  trace: TraceIndexShape,
  writer: (typeof WRITERS)[number],
  lines: ReadonlyArray<DeliveryLogLine>,
) => (writer === "record" ? Effect.forEach(lines, trace.record, { discard: true }) : trace.recordAll(lines))

describe("a sharded trace on one redis-server", () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(() => redis?.stop())

  it.each(WRITERS)(
    "keeps each message under its shard's tag, and searches, limits and shows across the shards (%s)",
    async (writer) => {
      const prefix = uniquePrefix("trace-sharded")
      const byShard = idsPerShard(2)
      // Interleaved in time across the shards: q of shard 0, 1, 2, 0, 1, 2, each a minute newer.
      const ids = [0, 1].flatMap((i) => byShard.map((ids) => ids[i]!))
      const result = await withTrace(redis.url, prefix, (traceOf, client) =>
        Effect.gen(function* () {
          const trace = traceOf(SHARDS)
          yield* writeAll(trace, writer, [
            ...[...ids.entries()].flatMap(([i, id]) => [
              sessionIn(id, NOW - (20 - i) * MIN),
              deferred(id, NOW - (20 - i) * MIN + 1_000),
            ]),
            // The DSN line carries the original's queue id: it joins that record, in that shard.
            dsn(ids[0]!, NOW - 5 * MIN),
          ])
          const keysOf = (shard: number) =>
            client.call("KEYS", `${shardTag(prefix, shard)}:trace:*`) as Effect.Effect<
              ReadonlyArray<string>,
              unknown
            >
          return {
            keys: yield* Effect.forEach([0, 1, 2], keysOf),
            everything: yield* trace.search({ limit: 50 }),
            byRecipient: yield* trace.search({ to: "bob@bank.example", limit: 50 }),
            newestFour: yield* trace.search({ limit: 4 }),
            byQueueId: yield* trace.search({ queueId: ids[4]!, limit: 50 }),
            shown: yield* trace.show(ids[0]!),
            missing: yield* trace.show("q-not-there"),
          }
        }),
      )
      for (const [shard, keys] of result.keys.entries()) {
        const records = keys.filter((k) => k.includes(":trace:msg:")).map((k) => k.split(":trace:msg:")[1])
        expect(records.sort()).toEqual([...byShard[shard]!].sort())
        // Its own index: the all-messages set and the dimension sets, in this shard's tag only.
        expect(keys).toContain(`${shardTag(prefix, shard)}:trace:all`)
        expect(keys).toContain(`${shardTag(prefix, shard)}:trace:to:bob@bank.example`)
      }
      const newestFirst = [...ids].reverse()
      // The DSN line made ids[0]'s record the newest of all.
      const expected = [ids[0]!, ...newestFirst.filter((id) => id !== ids[0])]
      expect(result.everything.records.map((r) => r.queueId)).toEqual(expected)
      expect(result.everything.complete).toBe(true)
      // A DSN line moves its message up only in the all-messages set (it has no index entries).
      expect(result.byRecipient.records.map((r) => r.queueId)).toEqual(newestFirst)
      // The limit holds across shards: the newest four of all, and "there is more".
      expect(result.newestFour.records.map((r) => r.queueId)).toEqual(expected.slice(0, 4))
      expect(result.newestFour.complete).toBe(false)
      expect(result.byQueueId.records.map((r) => r.queueId)).toEqual([ids[4]])
      const shown = Option.getOrThrow(result.shown)
      expect(shown.lines.map((l) => l.event)).toEqual(["session-in", "attempt", "dsn"])
      expect(shown.at).toBe(NOW - 5 * MIN)
      expect(Option.isNone(result.missing)).toBe(true)
    },
  )

  it("still finds what a fleet wrote with one shard after it grew to three", async () => {
    const prefix = uniquePrefix("trace-grown")
    // An id in shard 2 of three: the one-shard fleet wrote its first line into shard 0.
    const old = idsPerShard(1)[2]![0]!
    const fresh = idsPerShard(1)[1]![0]!
    const result = await withTrace(redis.url, prefix, (traceOf) =>
      Effect.gen(function* () {
        yield* traceOf(1).record(sessionIn(old, NOW - 10 * MIN))
        const grown = traceOf(SHARDS)
        yield* grown.record(sessionIn(fresh, NOW - 5 * MIN))
        // A later line of the old message goes to the shard its id now names: its record is split.
        yield* grown.record(deferred(old, NOW - 4 * MIN))
        return {
          search: yield* grown.search({ to: "bob@bank.example", limit: 50 }),
          shownOld: yield* grown.show(old),
        }
      }),
    )
    // Found once, at its newest line, with both halves of its record in time order.
    expect(result.search.records.map((r) => r.queueId)).toEqual([old, fresh])
    expect(result.search.records[0]!.lines.map((l) => l.event)).toEqual(["session-in", "attempt"])
    const shown = Option.getOrThrow(result.shownOld)
    expect(shown.lines.map((l) => l.event)).toEqual(["session-in", "attempt"])
    expect(shown.at).toBe(NOW - 4 * MIN)
  })
})

describe("a sharded trace on a 3-master Redis Cluster", { timeout: 120_000 }, () => {
  let cluster: RedisCluster
  beforeAll(async () => {
    cluster = await startCluster({ masters: 3 })
  }, 60_000)
  afterAll(() => cluster?.stop())

  it.each(WRITERS)(
    "writes each line as one script in its shard's slot, spread over the masters, and searches them all (%s)",
    async (writer) => {
      // A prefix whose three shard tags hash to three different masters.
      let prefix = ""
      let homes: ReadonlyArray<RedisServer> = []
      for (let i = 0; homes.length === 0 || new Set(homes).size < SHARDS; i++) {
        prefix = `trc${writer}${i}`
        homes = await Promise.all([0, 1, 2].map((s) => cluster.nodeFor(`${shardTag(prefix, s)}:x`)))
      }
      const byShard = idsPerShard(4)
      const ids = byShard.flat()
      const result = await withTrace(cluster.url, prefix, (traceOf) =>
        Effect.gen(function* () {
          const trace = traceOf(SHARDS)
          yield* writeAll(
            trace,
            writer,
            [...ids.entries()].flatMap(([i, id]) => [
              sessionIn(id, NOW - (30 - i) * MIN),
              deferred(id, NOW - (30 - i) * MIN + 1_000),
            ]),
          )
          return {
            found: yield* trace.search({ partner: "bank", code: "CERT_EXPIRED", limit: 50 }),
            shown: yield* trace.show(ids[5]!),
          }
        }),
      )
      expect(result.found.records.map((r) => r.queueId)).toEqual([...ids].reverse())
      expect(Option.isSome(result.shown)).toBe(true)
      for (const [shard, home] of homes.entries()) {
        const keys = (await redisCommand(
          home.port,
          "KEYS",
          `${shardTag(prefix, shard)}:trace:msg:*`,
        )) as ReadonlyArray<string>
        expect(keys.map((k) => k.split(":trace:msg:")[1]).sort()).toEqual([...byShard[shard]!].sort())
      }
    },
  )
})
