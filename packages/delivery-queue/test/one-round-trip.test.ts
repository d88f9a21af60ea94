import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BullBoardQueue, Enqueue, QueueUnavailable } from "../src"
import {
  acceptAll,
  partner,
  policySet,
  policyViewLayer,
  queueLayers,
  recordingDeliverer,
  uniquePrefix,
} from "./harness"
import { monitor } from "./monitor"

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

const layersFor = (prefix: string) =>
  queueLayers({
    redisUrl: redis.url,
    prefix,
    policy: policyViewLayer(policy),
    deliverer: recordingDeliverer(acceptAll).layer,
  }).queue

describe("enqueue in one round trip", () => {
  it("sends the body and every job in one MULTI on one connection, nothing of the message outside it", async () => {
    const prefix = uniquePrefix("one-trip")
    const { seen, messageId } = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const queue = yield* Enqueue
          yield* BullBoardQueue
          // Connections up and scripts known before we watch.
          yield* queue.enqueue(message)
          const watch = yield* Effect.promise(() => monitor(redis.port))
          const { messageId } = yield* queue.enqueue(message)
          yield* Effect.sleep("200 millis")
          return { seen: watch.stop(), messageId }
        }).pipe(Effect.provide(layersFor(prefix))),
      ),
    )
    // Commands sent by clients (those a script runs are listed as from "lua").
    const sent = seen.filter((c) => c.client !== "lua")
    const mine = sent.filter((c) => c.args.some((a) => a.includes(messageId)))
    expect(new Set(mine.map((c) => c.client)).size).toBe(1)
    const client = mine[0]!.client
    const session = sent.filter((c) => c.client === client)
    const multi = session.findIndex((c) => c.command === "MULTI")
    const exec = session.findIndex((c) => c.command === "EXEC")
    expect(multi).toBeGreaterThanOrEqual(0)
    const inside = session.slice(multi + 1, exec)
    // Every command of this message ran inside the one transaction…
    for (const command of mine) expect(inside).toContain(command)
    // …the body with its job ids, and both jobs (BullMQ's add script, as EVALSHA).
    expect(inside.map((c) => c.command)).toEqual(
      expect.arrayContaining(["HSET", "SADD", "SET", "EVALSHA", "EVALSHA"]),
    )
    expect(inside.find((c) => c.command === "HSET")?.args[0]).toBe(`{${prefix}}:spool:${messageId}`)
    expect(inside.filter((c) => c.command === "EVALSHA")).toHaveLength(2)
    // …and nothing else went to Redis for it: no second round trip.
    expect(session.filter((c) => c.command === "MULTI")).toHaveLength(1)
  })

  it("stores nothing at all when Redis refuses the transaction (no body without jobs, no jobs without body)", async () => {
    const prefix = uniquePrefix("one-trip-oom")
    const outcome = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const queue = yield* Enqueue
          yield* queue.enqueue(message)
          yield* Effect.promise(() => redisCommand(redis.port, "CONFIG", "SET", "maxmemory", "1"))
          return yield* Effect.either(queue.enqueue({ ...message, messageId: "refused-1" })).pipe(
            Effect.ensuring(
              Effect.promise(() => redisCommand(redis.port, "CONFIG", "SET", "maxmemory", "0")),
            ),
          )
        }).pipe(Effect.provide(layersFor(prefix))),
      ),
    )
    expect(Either.isLeft(outcome) && outcome.left).toBeInstanceOf(QueueUnavailable)
    const left = await redisCommand(redis.port, "KEYS", `{${prefix}}:*refused-1*`)
    expect(left).toEqual([])
  })

  const spoolOf = (prefix: string, messageId: string) =>
    redisCommand(redis.port, "EXISTS", `{${prefix}}:spool:${messageId}`)

  it("a connection whose very first transaction Redis refused (OOM) stores whole messages again once memory frees", async () => {
    // ioredis counts the add script as loaded once its EVAL was sent, even in a discarded MULTI:
    // without reloading, every later add is a NOSCRIPT EVALSHA and the body is stored without jobs.
    const prefix = uniquePrefix("one-trip-first-oom")
    const outcome = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const queue = yield* Enqueue
          // As on a Redis that never ran the add script (the script cache is the server's).
          yield* Effect.promise(() => redisCommand(redis.port, "SCRIPT", "FLUSH"))
          yield* Effect.promise(() => redisCommand(redis.port, "CONFIG", "SET", "maxmemory", "1"))
          const refused = yield* Effect.either(
            queue.enqueue({ ...message, messageId: "first-refused" }),
          ).pipe(
            Effect.ensuring(
              Effect.promise(() => redisCommand(redis.port, "CONFIG", "SET", "maxmemory", "0")),
            ),
          )
          const after = yield* Effect.either(queue.enqueue({ ...message, messageId: "after-oom" }))
          return { refused, after }
        }).pipe(Effect.provide(layersFor(prefix))),
      ),
    )
    expect(Either.isLeft(outcome.refused)).toBe(true)
    expect(outcome.after).toEqual(Either.right(expect.objectContaining({ messageId: "after-oom" })))
    expect(await spoolOf(prefix, "after-oom")).toBe(1)
    const jobs = (await redisCommand(redis.port, "KEYS", `{${prefix}}:delivery:*`)) as ReadonlyArray<string>
    expect(jobs.filter((k) => /after-oom[^:]*$/.test(k))).toHaveLength(2)
    expect(await redisCommand(redis.port, "KEYS", `{${prefix}}:*first-refused*`)).toEqual([])
  })

  it("after an operator's SCRIPT FLUSH the next message is still stored with all its jobs", async () => {
    const prefix = uniquePrefix("one-trip-flush")
    const outcome = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const queue = yield* Enqueue
          yield* queue.enqueue({ ...message, messageId: "before-flush" })
          yield* Effect.promise(() => redisCommand(redis.port, "SCRIPT", "FLUSH"))
          return yield* Effect.either(queue.enqueue({ ...message, messageId: "after-flush" }))
        }).pipe(Effect.provide(layersFor(prefix))),
      ),
    )
    expect(outcome).toEqual(Either.right(expect.objectContaining({ messageId: "after-flush" })))
    expect(await spoolOf(prefix, "after-flush")).toBe(1)
    const jobs = (await redisCommand(redis.port, "KEYS", `{${prefix}}:delivery:*`)) as ReadonlyArray<string>
    expect(jobs.filter((k) => /after-flush[^:]*$/.test(k))).toHaveLength(2)
  })
})
