/**
 * A job whose message body is gone from the spool — evicted under memory pressure, restored
 * from an older copy, or deleted by someone with write access to Redis — can never be
 * delivered. Its sender must hear of it: the pending recipients fail with MESSAGE_LOST and an
 * NDR goes back through the queue, the job ends; before, the job failed in silence.
 * Real Redis, the body key deleted as such a writer would.
 */
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Enqueue, QueueAdmin } from "../src"
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

describe("a job whose body is gone from the spool", () => {
  it("returns its recipients to the sender with MESSAGE_LOST and an NDR, and ends", async () => {
    const prefix = uniquePrefix("body-missing")
    const deliverer = recordingDeliverer(acceptAll)
    const { queue, worker } = queueLayers({ redisUrl: redis.url, prefix, policy, deliverer: deliverer.layer })
    const { messageId } = await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(Enqueue, (q) =>
          q.enqueue({
            sender: "alice@customer.example",
            recipients: ["a@bank.example", "b@bank.example"],
            body: Buffer.from("Subject: lost\r\n\r\nx\r\n"),
          }),
        ).pipe(Effect.provide(queue)),
      ),
    )
    expect(await redisCommand(redis.port, "DEL", `{${prefix}}:spool:${messageId}`)).toBe(1)

    const job = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const admin = yield* QueueAdmin
          const done = yield* eventually(
            admin
              .show(messageId)
              .pipe(Effect.map((v) => (v.jobs[0]?.state === "completed" ? v.jobs[0] : undefined))),
          )
          yield* eventually(Effect.sync(() => (deliverer.requests.length > 0 ? true : undefined)))
          return done
        }).pipe(Effect.provide(worker)),
      ),
    )
    // Nothing went to the partner: the only delivery is the NDR to the sender.
    expect(deliverer.requests.map((r) => [r.sender, r.recipients])).toEqual([
      ["", ["alice@customer.example"]],
    ])
    const ndr = deliverer.requests[0]!.body.toString()
    expect(ndr).toContain("Status: 5.3.0")
    expect(ndr).toContain("X-mailconnect; MESSAGE_LOST")
    expect(job.data.pending).toEqual([])
    expect(job.data.results.map((r) => [r.recipient, r.outcome, r.code, r.status])).toEqual([
      ["a@bank.example", "failed", "MESSAGE_LOST", "5.3.0"],
      ["b@bank.example", "failed", "MESSAGE_LOST", "5.3.0"],
    ])
    expect(job.log.join("\n")).toContain(
      "message body missing from the spool; returned to the sender (MESSAGE_LOST)",
    )
  })
})
