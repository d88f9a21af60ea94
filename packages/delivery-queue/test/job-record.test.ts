/**
 * An attempt's job record against a real Redis and a real BullMQ job, with the outcome's
 * statistics riding in the same script: both written in one call; the statistics best effort —
 * a key of the wrong type (a Redis writer's doing) fails neither the record nor the call; and a
 * job removed meanwhile writes nothing at all, statistics included.
 */
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { deletePrefix, redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { type Job, Queue } from "bullmq"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DeliveryRecord, type DeliveryStatsShape, makeDeliveryStats, makeLayout } from "../src"
import { type JobQueueOf, recordInJob } from "../src/job-record"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const NOW = Date.UTC(2026, 11, 3, 12, 30)
const delivered: DeliveryRecord = {
  partner: "bank",
  domain: "bank.example",
  source: "partner",
  at: NOW,
  delivered: 1,
  deferred: 0,
  bounced: 0,
  code: undefined,
  server: "smtp-in.bank.example:25",
  tls: "TLSv1.3",
}

/** A BullMQ job in shard 1 of a 2-shard layout, the stats over that layout, and the raw client. */
const withJob = <A>(
  f: (
    queue: Queue,
    job: Job,
    stats: DeliveryStatsShape,
    client: RedisClient["Type"],
  ) => Effect.Effect<A, unknown>,
) => {
  const prefix = uniquePrefix("job-record")
  const layout = makeLayout(prefix, 2)
  return Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* RedisClient
      const queue = new Queue("delivery", {
        connection: { host: "127.0.0.1", port: redis.port },
        prefix: layout.tagOf(1),
      })
      const job = yield* Effect.promise(() => queue.add("bank.example bank m1", { v: 1 }, { jobId: "m1" }))
      return yield* f(queue, job, makeDeliveryStats(client, layout), client).pipe(
        Effect.ensuring(Effect.promise(() => queue.close())),
        Effect.ensuring(Effect.ignore(deletePrefix(prefix))),
      )
    }).pipe(Effect.scoped, Effect.provide(redisLayer(redis.url, prefix))),
  )
}

const record = (queue: Queue, job: Job, stats?: ReturnType<DeliveryStatsShape["recordCall"]>) =>
  Effect.tryPromise(() =>
    recordInJob(queue as unknown as JobQueueOf, job, { v: 1, attempt: 1 }, "attempt 1 | delivered", stats),
  )

const jobState = (queue: Queue) =>
  Effect.promise(async () => {
    const job = await queue.getJob("m1")
    return { data: job?.data, log: (await queue.getJobLogs("m1")).logs }
  })

describe("recordInJob with the statistics alongside", () => {
  it("writes the job's data and log line and the outcome's statistics in one call", async () => {
    const { state, health } = await withJob((queue, job, stats) =>
      Effect.gen(function* () {
        yield* record(queue, job, stats.recordCall(delivered, 1))
        return { state: yield* jobState(queue), health: yield* stats.health(NOW) }
      }),
    )
    expect(state).toEqual({ data: { v: 1, attempt: 1 }, log: ["attempt 1 | delivered"] })
    expect(health.map((h) => [h.partner, h.delivered])).toEqual([["bank", 1]])
  })

  it("keeps the record when a statistics key has the wrong type, and the call does not fail", async () => {
    const { state, error } = await withJob((queue, job, stats, client) =>
      Effect.gen(function* () {
        // What a Redis writer could leave: the set of partners as a string (SADD: WRONGTYPE).
        yield* client.call("SET", `{${client.keys.tag.slice(1, -1)}:1}:stats:partners`, "junk")
        const error = yield* record(queue, job, stats.recordCall(delivered, 1)).pipe(
          Effect.flip,
          Effect.option,
        )
        return { state: yield* jobState(queue), error }
      }),
    )
    expect(error._tag).toBe("None")
    expect(state).toEqual({ data: { v: 1, attempt: 1 }, log: ["attempt 1 | delivered"] })
  })

  it("writes nothing, statistics included, for a job removed meanwhile", async () => {
    const { failed, health } = await withJob((queue, job, stats) =>
      Effect.gen(function* () {
        yield* Effect.promise(() => job.remove())
        const failed = yield* record(queue, job, stats.recordCall(delivered, 1)).pipe(
          Effect.flip,
          Effect.map((e) => String(e.error)),
        )
        return { failed, health: yield* stats.health(NOW) }
      }),
    )
    expect(failed).toContain("Missing key for job m1")
    expect(health).toEqual([])
  })
})
