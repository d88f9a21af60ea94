/**
 * An attempt's job record against a real Redis and a real BullMQ job, with the outcome's
 * statistics and the spool release riding in the same script: all written in one call; each best
 * effort — a key of the wrong type (a Redis writer's doing) fails neither the record nor the call,
 * nor keeps the release from running; and a job removed meanwhile writes nothing at all,
 * statistics and release included.
 */
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { deletePrefix, redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { type Job, Queue } from "bullmq"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DeliveryRecord, type DeliveryStatsShape, makeDeliveryStats, makeLayout } from "../src"
import { type Alongside, type JobQueueOf, recordInJob } from "../src/job-record"
import { makeSpool, type SpoolShape } from "../src/spool"

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
    spool: SpoolShape,
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
      const spool = makeSpool(client, layout)
      return yield* f(queue, job, makeDeliveryStats(client, layout), client, spool).pipe(
        Effect.ensuring(Effect.promise(() => queue.close())),
        Effect.ensuring(Effect.ignore(deletePrefix(prefix))),
      )
    }).pipe(Effect.scoped, Effect.provide(redisLayer(redis.url, prefix))),
  )
}

const record = (queue: Queue, job: Job, ...alongside: ReadonlyArray<Alongside>) =>
  Effect.tryPromise(() =>
    recordInJob(
      queue as unknown as JobQueueOf,
      job,
      { v: 1, attempt: 1 },
      "attempt 1 | delivered",
      alongside,
    ),
  )

/** Message m's body in shard 1, held by `jobIds`. */
const spooled = (client: RedisClient["Type"], spool: SpoolShape, jobIds: ReadonlyArray<string>) =>
  Effect.forEach(
    spool.storeCommands(
      1,
      "m",
      {
        body: Buffer.from("Subject: x\r\n\r\nbody\r\n"),
        sender: "a@b.example",
        headers: "Subject: x",
        arrivalAt: NOW,
      },
      jobIds,
      60_000,
    ),
    ([command, ...args]) => client.call(command, ...args),
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

  it("writes nothing, statistics and release included, for a job removed meanwhile", async () => {
    const { failed, health, body } = await withJob((queue, job, stats, client, spool) =>
      Effect.gen(function* () {
        yield* spooled(client, spool, ["m1"])
        yield* Effect.promise(() => job.remove())
        const failed = yield* record(
          queue,
          job,
          stats.recordCall(delivered, 1),
          spool.releaseCall("m", "m1", 1),
        ).pipe(
          Effect.flip,
          Effect.map((e) => String(e.error)),
        )
        return { failed, health: yield* stats.health(NOW), body: yield* spool.exists("m", 1) }
      }),
    )
    expect(failed).toContain("Missing key for job m1")
    expect(health).toEqual([])
    expect(body).toBe(true)
  })
})

describe("recordInJob with the spool release alongside", () => {
  it("records, counts and releases the body of a job that is done, in one call", async () => {
    const { state, health, body } = await withJob((queue, job, stats, client, spool) =>
      Effect.gen(function* () {
        yield* spooled(client, spool, ["m1"])
        yield* record(queue, job, stats.recordCall(delivered, 1), spool.releaseCall("m", "m1", 1))
        return {
          state: yield* jobState(queue),
          health: yield* stats.health(NOW),
          body: yield* spool.exists("m", 1),
        }
      }),
    )
    expect(state).toEqual({ data: { v: 1, attempt: 1 }, log: ["attempt 1 | delivered"] })
    expect(health.map((h) => [h.partner, h.delivered])).toEqual([["bank", 1]])
    expect(body).toBe(false)
  })

  it("keeps the body while another job of the message has not ended", async () => {
    const body = await withJob((queue, job, _stats, client, spool) =>
      Effect.gen(function* () {
        yield* spooled(client, spool, ["m1", "m2"])
        yield* record(queue, job, spool.releaseCall("m", "m1", 1))
        const afterFirst = yield* spool.exists("m", 1)
        // The other job's own release (its record, or the plain one) then removes it.
        const removed = yield* spool.release("m", "m2", 1)
        return { afterFirst, removed, afterBoth: yield* spool.exists("m", 1) }
      }),
    )
    expect(body).toEqual({ afterFirst: true, removed: true, afterBoth: false })
  })

  it("releases even when the statistics before it fail on a wrong-typed key", async () => {
    const { state, body } = await withJob((queue, job, stats, client, spool) =>
      Effect.gen(function* () {
        yield* spooled(client, spool, ["m1"])
        yield* client.call("SET", `{${client.keys.tag.slice(1, -1)}:1}:stats:partners`, "junk")
        yield* record(queue, job, stats.recordCall(delivered, 1), spool.releaseCall("m", "m1", 1))
        return { state: yield* jobState(queue), body: yield* spool.exists("m", 1) }
      }),
    )
    expect(state.log).toEqual(["attempt 1 | delivered"])
    expect(body).toBe(false)
  })

  it("keeps the record when the release fails on a wrong-typed key (the body is left to its TTL)", async () => {
    const { state, error, body } = await withJob((queue, job, _stats, client, spool) =>
      Effect.gen(function* () {
        yield* spooled(client, spool, ["m1"])
        // The message's job set replaced by a string: SREM fails with WRONGTYPE.
        yield* client.call("SET", `{${client.keys.tag.slice(1, -1)}:1}:spool:m:jobs`, "junk")
        const error = yield* record(queue, job, spool.releaseCall("m", "m1", 1)).pipe(
          Effect.flip,
          Effect.option,
        )
        return { state: yield* jobState(queue), error, body: yield* spool.exists("m", 1) }
      }),
    )
    expect(error._tag).toBe("None")
    expect(state).toEqual({ data: { v: 1, attempt: 1 }, log: ["attempt 1 | delivered"] })
    // The release did run, and failed: the body is still there.
    expect(body).toBe(true)
  })
})
