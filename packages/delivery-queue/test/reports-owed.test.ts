/**
 * Delay warnings and NDRs are never lost between recording an attempt's results and queueing
 * the report: the first enqueue of a DSN fails with the real `QueueUnavailable`, the job keeps
 * owing it, and its re-run queues it exactly once, without sending again to a recipient that
 * already got its 250.
 */
import { PolicyView } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  BullBoardQueue,
  DeliveryFailed,
  type DeliveryJobData,
  DeliveryQueue,
  DeliveryWorker,
  Enqueue,
  type NewMessage,
  QueueAdmin,
  QueueUnavailable,
} from "../src"
import { eventually, partner, policySet, recordingDeliverer, uniquePrefix } from "./harness"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const body = Buffer.from("From: alice@customer.example\r\nSubject: quarterly figures\r\n\r\nhello\r\n")
const policy = policySet([partner("bank", ["bank.example"])])

/** The real queue, whose first DSN enqueue fails as Redis going away mid-attempt would make it. */
const failingFirstDsn = (calls: Array<NewMessage>) =>
  Layer.effect(
    Enqueue,
    Effect.map(Enqueue, (real) => ({
      ...real,
      enqueue: (message: NewMessage) =>
        Effect.suspend(() => {
          if (message.isDsn) calls.push(message)
          return message.isDsn && calls.length === 1
            ? Effect.fail(new QueueUnavailable({ operation: "enqueue", detail: "Connection is closed." }))
            : real.enqueue(message)
        }),
    })),
  )

const layers = (
  prefix: string,
  deliverer: ReturnType<typeof recordingDeliverer>,
  calls: Array<NewMessage>,
) => {
  const config = Either.getOrThrow(parseRedisUrl(redis.url, prefix))
  const base = Layer.mergeAll(
    RedisConnectionFactory.layerFrom(config),
    PolicyView.fixed(policy, buildIndex(policy)),
    deliverer.layer,
  )
  const queue = failingFirstDsn(calls).pipe(
    Layer.provideMerge(DeliveryQueue.layer.pipe(Layer.provideMerge(base))),
  )
  return DeliveryWorker.layer({ concurrency: 2, reportingMta: "relay.test", waitMs: 200 }).pipe(
    Layer.provideMerge(queue),
  )
}

describe("reports owed", () => {
  it("queues an NDR exactly once after its first enqueue failed, and never re-sends to a delivered recipient", async () => {
    const deliverer = recordingDeliverer((request) =>
      Either.right({
        server: "mx.bank.example:25",
        recipients: request.recipients.map((recipient) =>
          recipient === "gone@bank.example"
            ? {
                recipient,
                accepted: false,
                permanent: true,
                status: "5.1.1",
                reply: "550 5.1.1 no such user",
              }
            : { recipient, accepted: true, permanent: false, status: "2.0.0", reply: "250 2.0.0 ok" },
        ),
      }),
    )
    const calls: Array<NewMessage> = []
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const queue = yield* Enqueue
        const admin = yield* QueueAdmin
        const bull = yield* BullBoardQueue
        const { messageId, jobIds } = yield* queue.enqueue({
          sender: "alice@customer.example",
          recipients: ["ok@bank.example", "gone@bank.example"],
          body,
        })
        const ndrs = () => deliverer.requests.filter((r) => r.sender === "")
        yield* eventually(Effect.sync(() => (ndrs().length >= 1 ? true : undefined)))
        const job = yield* eventually(
          Effect.promise(async () => {
            const job = await bull.queue.getJob(jobIds[0]!)
            return job && (await job.getState()) === "completed" ? job : undefined
          }),
        )
        // Give a wrongly queued second NDR time to show up.
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 600)))
        const logs = yield* Effect.promise(() => bull.queue.getJobLogs(jobIds[0]!))
        const view = yield* admin.show(messageId)
        return { messageId, data: job.data as DeliveryJobData, logs: logs.logs, ndrs: ndrs(), view }
      }).pipe(Effect.scoped, Effect.provide(layers(uniquePrefix("owed"), deliverer, calls))),
    )
    // The first enqueue failed for real, the re-run queued the same DSN id.
    expect(calls.map((c) => c.messageId)).toEqual([
      `${result.messageId}.ndr.bank.example.1`,
      `${result.messageId}.ndr.bank.example.1`,
    ])
    expect(result.ndrs).toHaveLength(1)
    expect(result.ndrs[0]!.messageId).toBe(`${result.messageId}.ndr.bank.example.1`)
    expect(result.ndrs[0]!.recipients).toEqual(["alice@customer.example"])
    expect(result.ndrs[0]!.body.toString()).toContain("Final-Recipient: rfc822; gone@bank.example")
    // The original message went out once: the 250 recipient was never sent to again.
    expect(deliverer.requests.filter((r) => r.sender !== "").map((r) => r.recipients)).toEqual([
      ["ok@bank.example", "gone@bank.example"],
    ])
    expect(result.data.results.map((r) => [r.recipient, r.outcome])).toEqual([
      ["ok@bank.example", "delivered"],
      ["gone@bank.example", "failed"],
    ])
    expect(result.data.reportsOwed).toBeUndefined()
    expect(
      result.logs.some((line) => /reports owed: enqueue failed \(Connection is closed\.\)/.test(line)),
    ).toBe(true)
    expect(result.view.bodyStored).toBe(false)
  })

  it("sends a delay warning owed by a deferred job once, then keeps to the job's own timeline point", async () => {
    const deliverer = recordingDeliverer(() =>
      Either.left(
        new DeliveryFailed({
          code: "CERT_EXPIRED",
          status: "4.7.5",
          server: "mx.bank.example:25",
        }),
      ),
    )
    const calls: Array<NewMessage> = []
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const queue = yield* Enqueue
        const bull = yield* BullBoardQueue
        // Queued 5 hours ago: the first attempt is past the 4 h warning point.
        const { messageId, jobIds } = yield* queue.enqueue({
          sender: "alice@customer.example",
          recipients: ["a@bank.example"],
          body,
          arrivalAt: Date.now() - 5 * 3_600_000,
        })
        yield* eventually(
          Effect.sync(() => (deliverer.requests.some((r) => r.sender === "") ? true : undefined)),
        )
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 600)))
        const job = (yield* Effect.promise(() => bull.queue.getJob(jobIds[0]!)))!
        return {
          messageId,
          data: job.data as DeliveryJobData,
          state: yield* Effect.promise(() => job.getState()),
        }
      }).pipe(Effect.scoped, Effect.provide(layers(uniquePrefix("owed-delay"), deliverer, calls))),
    )
    expect(calls).toHaveLength(2)
    const warnings = deliverer.requests.filter((r) => r.sender === "")
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.messageId).toBe(`${result.messageId}.delay.bank.example.1`)
    // One delivery attempt only: the report's retry did not become an early delivery attempt.
    expect(deliverer.requests.filter((r) => r.sender !== "")).toHaveLength(1)
    expect(result.data.attemptCount).toBe(1)
    expect(result.data.warned).toBe(true)
    expect(result.data.reportsOwed).toBeUndefined()
    expect(result.state).toBe("delayed")
    expect(result.data.nextAttemptAt).toBeGreaterThan(Date.now())
  })
})
