/**
 * The queue sharded over several hash tags (`REDIS_SHARDS`): messages spread over the shards by
 * id, body and jobs in the same shard, workers on every shard, admin and queue commands across
 * them; the layout one recorded fact; a fleet growing from one shard keeps its mail.
 */
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  concurrencyPerShard,
  Deliverer,
  DeliveryFailed,
  Enqueue,
  QueueAdmin,
  QueueLayout,
  QueueOps,
  ShardLayoutMismatch,
} from "../src"
import {
  acceptAll,
  eventually,
  partner,
  policySet,
  policyViewLayer,
  queueLayers,
  recordingDeliverer,
  type Script,
  uniquePrefix,
} from "./harness"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const body = Buffer.from("From: alice@customer.example\r\nSubject: hi\r\n\r\nhello\r\n")
const policy = policySet([partner("bank", ["bank.example"]), partner("insurer", ["*.insurer.example"])])
const message = {
  sender: "alice@customer.example",
  recipients: ["a@bank.example", "c@eu.insurer.example"],
  body,
}

const keysOf = async (pattern: string) =>
  (await redisCommand(redis.port, "KEYS", pattern)) as ReadonlyArray<string>

/** Partners refuse connections (deferred); our own domain (DSNs) accepts. */
const deferAll: Script = (request) =>
  request.route.local
    ? acceptAll(request)
    : Either.left(new DeliveryFailed({ code: "CONNECT_REFUSED", status: "4.4.1" }))

const run = <A, E, R>(effect: Effect.Effect<A, E, R>, layer: Layer.Layer<R, unknown>) =>
  Effect.runPromise(Effect.scoped(Effect.provide(effect, layer)) as Effect.Effect<A, E>)

describe("a sharded queue", () => {
  it("spreads messages over the shards by id, delivers every one and removes every body", async () => {
    const prefix = uniquePrefix("sharded")
    const deliverer = recordingDeliverer(acceptAll)
    const { queue, worker } = queueLayers({
      redisUrl: redis.url,
      prefix,
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
      shards: 4,
    })
    const ids = await run(
      Effect.gen(function* () {
        const enqueue = yield* Enqueue
        const layout = yield* QueueLayout
        expect(layout.shards).toBe(4)
        const ids = yield* Effect.forEach(Array.from({ length: 40 }), () =>
          enqueue.enqueue(message).pipe(Effect.map((e) => e.messageId)),
        )
        // Body, job ids and jobs under the message's own shard tag.
        for (const id of ids.slice(0, 8)) {
          const tag = layout.tagOf(layout.shardOf(id))
          expect(yield* Effect.promise(() => keysOf(`${tag}:spool:${id}*`))).toHaveLength(2)
          expect(yield* Effect.promise(() => keysOf(`${tag}:delivery:${id}/*`))).toHaveLength(2)
        }
        const perShard = layout.all.map((s) => ids.filter((id) => layout.shardOf(id) === s).length)
        for (const n of perShard) expect(n).toBeGreaterThan(0)
        return ids
      }),
      queue,
    )
    // Each shard's queue under its own tag.
    for (const tag of [`{${prefix}}`, `{${prefix}:1}`, `{${prefix}:2}`, `{${prefix}:3}`])
      expect(await keysOf(`${tag}:delivery:wait`)).toEqual([`${tag}:delivery:wait`])
    await run(
      Effect.gen(function* () {
        const admin = yield* QueueAdmin
        yield* eventually(
          admin.counts.pipe(Effect.map((c) => (c.completed === ids.length * 2 ? true : undefined))),
        )
        const view = yield* admin.show(ids[7]!)
        expect(view.jobs.map((j) => j.state)).toEqual(["completed", "completed"])
        expect(view.bodyStored).toBe(false)
      }),
      worker,
    )
    expect(new Set(deliverer.requests.map((r) => r.messageId)).size).toBe(ids.length)
    expect(await keysOf(`{${prefix}*:spool:*`)).toEqual([])
  })

  it("lists, flushes and acts on deferred mail across the shards", async () => {
    const prefix = uniquePrefix("sharded-ops")
    const deliverer = recordingDeliverer(deferAll)
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix,
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
      shards: 3,
    })
    await run(
      Effect.gen(function* () {
        const enqueue = yield* Enqueue
        const ops = yield* QueueOps
        const admin = yield* QueueAdmin
        const layout = yield* QueueLayout
        // Four ids per shard, chosen by their hash: 12 random ids miss one of 3 shards 2 % of the time.
        const chosen = Array.from({ length: 200 }, (_, i) => `ops-${i}`)
        const wanted = layout.all.flatMap((s) => chosen.filter((id) => layout.shardOf(id) === s).slice(0, 4))
        const ids = yield* Effect.forEach(wanted, (messageId) =>
          enqueue
            .enqueue({ ...message, messageId, recipients: ["a@bank.example"] })
            .pipe(Effect.map((e) => e.messageId)),
        )
        expect(ids).toHaveLength(12)
        expect(new Set(ids.map(layout.shardOf)).size).toBe(3)
        const deferred = yield* eventually(
          ops.list({ states: ["deferred"] }).pipe(Effect.map((l) => (l.length === 12 ? l : undefined))),
        )
        expect(new Set(deferred.map((e) => e.messageId))).toEqual(new Set(ids))
        expect((yield* admin.counts).delayed).toBe(12)
        const tries = deliverer.requests.length
        expect(yield* admin.flush({ partner: "bank" })).toBe(12)
        yield* eventually(Effect.sync(() => (deliverer.requests.length >= tries + 12 ? true : undefined)))
        // A silent delete in one shard removes that shard's job and body.
        const target = ids[5]!
        yield* eventually(
          ops
            .list({ messageIds: [target], states: ["deferred"] })
            .pipe(Effect.map((l) => (l.length === 1 ? true : undefined))),
        )
        const report = yield* ops.act({
          action: { action: "delete", notify: "silent" },
          selection: { messageIds: [target] },
          dryRun: false,
          actor: { name: "op", via: "cli" },
        })
        expect(report.touched).toHaveLength(1)
        const spool = layout.tagOf(layout.shardOf(target))
        expect(yield* Effect.promise(() => keysOf(`${spool}:spool:${target}*`))).toEqual([])
      }),
      QueueOps.layer.pipe(Layer.provideMerge(worker)),
    )
  })
})

describe("the shard layout", () => {
  const layoutOf = (prefix: string, shards?: number) =>
    queueLayers({
      redisUrl: redis.url,
      prefix,
      policy: policyViewLayer(policy),
      deliverer: recordingDeliverer(acceptAll).layer,
      ...(shards === undefined ? {} : { shards }),
    }).queue
  const shardsOf = (prefix: string, shards?: number) =>
    run(
      Effect.map(QueueLayout, (l) => l.shards),
      layoutOf(prefix, shards),
    )

  it("is recorded at the first start, taken from Redis when unset, and refuses another count", async () => {
    const prefix = uniquePrefix("layout")
    expect(await shardsOf(prefix)).toBe(1)
    // Unset: nothing recorded (a CLI run before the first relay does not fix the layout).
    expect(await redisCommand(redis.port, "GET", `{${prefix}}:layout:shards`)).toBeNull()
    expect(await shardsOf(prefix, 3)).toBe(3)
    expect(await redisCommand(redis.port, "GET", `{${prefix}}:layout:shards`)).toBe("3")
    expect(await shardsOf(prefix)).toBe(3)
    expect(await shardsOf(prefix, 3)).toBe(3)
    const refused = await Effect.runPromise(
      Effect.scoped(Effect.provide(Effect.either(QueueLayout), layoutOf(prefix, 2))).pipe(
        Effect.catchAllDefect((d) => Effect.succeed(Either.left(d))),
        Effect.either,
        Effect.map((e) => (Either.isLeft(e) ? e.left : Either.isLeft(e.right) ? e.right.left : undefined)),
      ),
    )
    expect(refused).toBeInstanceOf(ShardLayoutMismatch)
    expect((refused as ShardLayoutMismatch).message).toContain("REDIS_SHARDS=2")
    expect((refused as ShardLayoutMismatch).message).toContain("is 3 shard(s)")
  })

  it("lets a fleet grow from one shard and keeps the mail queued before (found and delivered)", async () => {
    const prefix = uniquePrefix("grow")
    const one = queueLayers({
      redisUrl: redis.url,
      prefix,
      policy: policyViewLayer(policy),
      deliverer: recordingDeliverer(acceptAll).layer,
    }).queue
    const before = await run(
      Effect.forEach(Array.from({ length: 8 }), () =>
        Effect.flatMap(Enqueue, (q) => q.enqueue(message)).pipe(Effect.map((e) => e.messageId)),
      ),
      one,
    )
    const deliverer = recordingDeliverer(acceptAll)
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix,
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
      shards: 4,
    })
    await run(
      Effect.gen(function* () {
        const layout = yield* QueueLayout
        // Most of them now hash to another shard than the one they sit in.
        expect(before.some((id) => layout.shardOf(id) !== 0)).toBe(true)
        const admin = yield* QueueAdmin
        yield* eventually(
          admin.counts.pipe(Effect.map((c) => (c.completed === before.length * 2 ? true : undefined))),
        )
        for (const id of before) {
          const view = yield* admin.show(id)
          expect(view.jobs.map((j) => j.state)).toEqual(["completed", "completed"])
        }
      }),
      worker,
    )
    expect(new Set(deliverer.requests.map((r) => r.messageId))).toEqual(new Set(before))
    expect(await keysOf(`{${prefix}*:spool:*`)).toEqual([])
  })
})

describe("concurrency across shards", () => {
  it("never runs more attempts at once than the relay's concurrency, even with fewer slots than shards", async () => {
    const prefix = uniquePrefix("sharded-slots")
    let running = 0
    let most = 0
    const delivered: Array<string> = []
    const slow = Layer.succeed(Deliverer, {
      deliver: (request) =>
        Effect.gen(function* () {
          running++
          most = Math.max(most, running)
          yield* Effect.sleep("30 millis")
          running--
          delivered.push(request.messageId)
          return Either.getOrThrow(acceptAll(request))
        }),
    })
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix,
      policy: policyViewLayer(policy),
      deliverer: slow,
      shards: 4,
      concurrency: 2,
    })
    await run(
      Effect.gen(function* () {
        const enqueue = yield* Enqueue
        const layout = yield* QueueLayout
        const ids = yield* Effect.forEach(Array.from({ length: 24 }), () =>
          enqueue
            .enqueue({ ...message, recipients: ["a@bank.example"] })
            .pipe(Effect.map((e) => e.messageId)),
        )
        expect(new Set(ids.map(layout.shardOf)).size).toBe(4)
        yield* eventually(Effect.sync(() => (delivered.length === ids.length ? true : undefined)))
      }),
      worker,
    )
    expect(most).toBeGreaterThan(1)
    expect(most).toBeLessThanOrEqual(2)
  })

  it("splits the relay's concurrency evenly, at least one each", () => {
    expect(concurrencyPerShard(16, 1)).toEqual([16])
    expect(concurrencyPerShard(16, 3)).toEqual([6, 5, 5])
    expect(concurrencyPerShard(2, 4)).toEqual([1, 1, 1, 1])
  })
})
