/**
 * Jobs an older relay version left failed by BullMQ's stall limit (its default before
 * `MAX_STALLED_COUNT`): a relay that starts takes them up again and delivers them; a job failed
 * for another reason stays failed for the operator. The failed jobs are made as BullMQ makes
 * them: taken by a real (manual) worker and failed with BullMQ's own reason.
 */
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import { UnrecoverableError, Worker } from "bullmq"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Enqueue, QUEUE_NAME, QueueAdmin, STALL_LIMIT_REASON } from "../src"
import {
  acceptAll,
  eventually,
  partner,
  policySet,
  policyViewLayer,
  queueLayers,
  recordingDeliverer,
  uniquePrefix,
} from "./harness"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const policy = policyViewLayer(policySet([partner("bank", ["bank.example"])]))

/** An older worker's end for each job, in queue order: failed with `reasons[i]`, never run. */
const failAsAnOlderWorker = async (prefix: string, reasons: ReadonlyArray<string>) => {
  const worker = new Worker(QUEUE_NAME, null, {
    connection: { host: "127.0.0.1", port: redis.port },
    prefix: `{${prefix}}`,
    autorun: false,
  })
  try {
    for (const reason of reasons) {
      const job = await worker.getNextJob("older-worker")
      if (!job) throw new Error("no job to fail")
      // Failed whatever its attempts left, as BullMQ's stall check fails it.
      await job.moveToFailed(new UnrecoverableError(reason), "older-worker", false)
    }
  } finally {
    await worker.close()
  }
}

describe("jobs failed by an older version's stall limit", () => {
  it("are taken up again and delivered when a relay starts; other failures stay", async () => {
    const prefix = uniquePrefix("stall-recovery")
    const deliverer = recordingDeliverer(acceptAll)
    const { queue, worker } = queueLayers({ redisUrl: redis.url, prefix, policy, deliverer: deliverer.layer })
    const enqueued = await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(Enqueue, (q) =>
          Effect.forEach(["stalled", "broken"], (subject) =>
            q.enqueue({
              sender: "a@customer.example",
              recipients: ["b@bank.example"],
              body: Buffer.from(`Subject: ${subject}\r\n\r\nx\r\n`),
            }),
          ),
        ).pipe(Effect.provide(queue)),
      ),
    )
    const [stalled, broken] = enqueued.map((e) => e.messageId)
    await failAsAnOlderWorker(prefix, [STALL_LIMIT_REASON, "job data does not match version 1"])
    expect(await redisCommand(redis.port, "ZCARD", `{${prefix}}:delivery:failed`)).toBe(2)

    const views = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const admin = yield* QueueAdmin
          const delivered = yield* eventually(
            admin
              .show(stalled!)
              .pipe(Effect.map((v) => (v.jobs[0]?.state === "completed" ? v.jobs[0] : undefined))),
          )
          return { delivered, broken: (yield* admin.show(broken!)).jobs[0] }
        }).pipe(Effect.provide(worker)),
      ),
    )
    expect(deliverer.requests.map((r) => r.messageId)).toEqual([stalled])
    expect(views.delivered.log[0]).toMatch(
      /failed by an older version's stall limit without an attempt; taken up again$/,
    )
    expect(views.delivered.data.attempts.map((a) => a.delivered)).toEqual([1])
    expect(views.broken?.state).toBe("failed")
    expect(views.broken?.log ?? []).toEqual([])
  })
})
