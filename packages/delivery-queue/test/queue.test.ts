import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, type Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  BullBoardQueue,
  DeliveryFailed,
  type DeliveryQueueServices,
  DeliveryStats,
  Enqueue,
  JOB_VERSION,
  QueueAdmin,
} from "../src"
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
afterAll(() => redis.stop())

const body = Buffer.from("From: alice@customer.example\r\nSubject: hi\r\n\r\nhello\r\n")
const policy = policySet([partner("bank", ["bank.example"]), partner("insurer", ["*.insurer.example"])])

const run = <A, E>(
  effect: Effect.Effect<A, E, DeliveryQueueServices>,
  layer: Layer.Layer<DeliveryQueueServices, unknown>,
) => Effect.runPromise(Effect.scoped(Effect.provide(effect, layer)))

describe("delivery queue with a real Redis", () => {
  it("stores one body, one job per domain, delivers each and removes the body after the last", async () => {
    const deliverer = recordingDeliverer(acceptAll)
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("basic"),
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
    })
    const view = await run(
      Effect.gen(function* () {
        const queue = yield* Enqueue
        const admin = yield* QueueAdmin
        const stats = yield* DeliveryStats
        const { messageId, jobIds } = yield* queue.enqueue({
          sender: "alice@customer.example",
          recipients: ["a@bank.example", "b@bank.example", "c@eu.insurer.example"],
          body,
        })
        expect(jobIds).toEqual([`${messageId}/bank.example`, `${messageId}/eu.insurer.example`])
        const view = yield* eventually(
          admin
            .show(messageId)
            .pipe(
              Effect.map((v) =>
                v.jobs.every((j) => j.state === "completed") && !v.bodyStored ? v : undefined,
              ),
            ),
        )
        const health = yield* stats.health(Date.now())
        expect(health.map((h) => [h.partner, h.delivered])).toEqual([
          ["bank", 2],
          ["insurer", 1],
        ])
        expect(health[0]!.last).toMatchObject({ partner: "bank", delivered: 2, server: "sink:25" })
        return view
      }),
      worker,
    )
    expect(view.jobs.map((j) => j.data.results.map((r) => r.recipient))).toEqual([
      ["a@bank.example", "b@bank.example"],
      ["c@eu.insurer.example"],
    ])
    expect(deliverer.requests.map((r) => [r.route.policy.partner?.name, r.recipients])).toEqual(
      expect.arrayContaining([
        ["bank", ["a@bank.example", "b@bank.example"]],
        ["insurer", ["c@eu.insurer.example"]],
      ]),
    )
    expect(deliverer.requests[0]!.body.equals(body)).toBe(true)
    expect(view.jobs[0]!.log[0]).toMatch(/attempt 1 \| serial 1 \| server sink:25 \| ok \| delivered 2/)
  })

  it("routes local domains to their internal next hop", async () => {
    const deliverer = recordingDeliverer(acceptAll)
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("local"),
      policy: policyViewLayer(policySet([], 2600)),
      deliverer: deliverer.layer,
    })
    await run(
      Effect.gen(function* () {
        const queue = yield* Enqueue
        const admin = yield* QueueAdmin
        const { messageId } = yield* queue.enqueue({
          sender: "x@partner.example",
          recipients: ["bob@customer.example"],
          body,
        })
        yield* eventually(admin.show(messageId).pipe(Effect.map((v) => (v.bodyStored ? undefined : v))))
      }),
      worker,
    )
    expect(deliverer.requests[0]!.route).toMatchObject({
      local: true,
      policy: { servers: [{ host: "127.0.0.1", port: 2600 }] },
    })
  })

  it("sends an NDR through the queue for a permanent failure, and no DSN about that DSN", async () => {
    const deliverer = recordingDeliverer((request) =>
      request.route.local
        ? Either.left(
            new DeliveryFailed({
              code: "SMTP_PERMANENT",
              status: "5.1.1",
              reply: "550 5.1.1 no such user",
            }),
          )
        : Either.left(
            new DeliveryFailed({
              code: "SMTP_PERMANENT",
              status: "5.7.1",
              reply: "554 5.7.1 refused",
            }),
          ),
    )
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("ndr"),
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
    })
    await run(
      Effect.gen(function* () {
        const queue = yield* Enqueue
        yield* queue.enqueue({ sender: "alice@customer.example", recipients: ["a@bank.example"], body })
        yield* eventually(Effect.sync(() => (deliverer.requests.length >= 2 ? true : undefined)))
        // Give a wrongly produced third DSN time to show up.
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 500)))
      }),
      worker,
    )
    expect(deliverer.requests).toHaveLength(2)
    const ndr = deliverer.requests[1]!
    expect(ndr.sender).toBe("")
    expect(ndr.recipients).toEqual(["alice@customer.example"])
    expect(ndr.body.toString()).toContain("multipart/report")
    expect(ndr.body.toString()).toContain("Status: 5.7.1")
  })

  it("queues address-literal recipients under colon-free ids, delivers one and sends an NDR about the other", async () => {
    const deliverer = recordingDeliverer((request) =>
      request.route.policy.domain === "[IPv6:2001:db8::1]"
        ? Either.left(
            new DeliveryFailed({
              code: "SMTP_PERMANENT",
              status: "5.1.1",
              reply: "550 5.1.1 no such user",
            }),
          )
        : acceptAll(request),
    )
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("literal"),
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
    })
    const view = await run(
      Effect.gen(function* () {
        const queue = yield* Enqueue
        const admin = yield* QueueAdmin
        const { messageId, jobIds } = yield* queue.enqueue({
          sender: "alice@customer.example",
          recipients: ["a@[IPv6:2001:DB8::1]", "b@[127.0.0.1]"],
          body,
        })
        expect(jobIds).toEqual([`${messageId}/[IPv6%3A2001%3Adb8%3A%3A1]`, `${messageId}/[127.0.0.1]`])
        return yield* eventually(
          admin
            .show(messageId)
            .pipe(
              Effect.map((v) =>
                v.jobs.every((j) => j.state === "completed") && deliverer.requests.length >= 3
                  ? v
                  : undefined,
              ),
            ),
        )
      }),
      worker,
    )
    expect(view.jobs.map((j) => [j.data.domain, j.data.results.map((r) => r.outcome)])).toEqual([
      ["[IPv6:2001:db8::1]", ["failed"]],
      ["[127.0.0.1]", ["delivered"]],
    ])
    expect(deliverer.requests.map((r) => r.route.policy.partner)).toEqual([undefined, undefined, undefined])
    const ndr = deliverer.requests.find((r) => r.sender === "")!
    expect(ndr.recipients).toEqual(["alice@customer.example"])
    expect(ndr.messageId).toBe(`${view.messageId}.ndr.[IPv6%3A2001%3Adb8%3A%3A1].1`)
    expect(ndr.body.toString()).toContain("Final-Recipient: rfc822; a@[IPv6:2001:DB8::1]")
  })

  it("answers with QueueUnavailable, not success, when Redis is gone", async () => {
    const own = await startRedis()
    const deliverer = recordingDeliverer(acceptAll)
    const { queue } = queueLayers({
      redisUrl: own.url,
      prefix: uniquePrefix("down"),
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
    })
    const result = await run(
      Effect.gen(function* () {
        const q = yield* Enqueue
        yield* Effect.promise(() => own.stop())
        return yield* Effect.either(
          q.enqueue({ sender: "alice@customer.example", recipients: ["a@bank.example"], body }),
        )
      }),
      queue,
    )
    expect(Either.isLeft(result) && result.left._tag).toBe("QueueUnavailable")
  })

  it("flushes a partner's delayed jobs so they run now", async () => {
    let fail = true
    const deliverer = recordingDeliverer((request) =>
      fail
        ? Either.left(new DeliveryFailed({ code: "CERT_PIN_MISMATCH", status: "4.7.5" }))
        : acceptAll(request),
    )
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("flush"),
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
    })
    const promoted = await run(
      Effect.gen(function* () {
        const queue = yield* Enqueue
        const admin = yield* QueueAdmin
        const { messageId } = yield* queue.enqueue({
          sender: "alice@customer.example",
          recipients: ["a@bank.example", "z@eu.insurer.example"],
          body,
        })
        yield* eventually(admin.counts.pipe(Effect.map((c) => (c.delayed === 2 ? true : undefined))))
        fail = false
        const promoted = yield* admin.flush({ partner: "bank" })
        yield* eventually(
          admin
            .show(messageId)
            .pipe(
              Effect.map((v) =>
                v.jobs.find((j) => j.data.domain === "bank.example")?.state === "completed"
                  ? true
                  : undefined,
              ),
            ),
        )
        const insurer = (yield* admin.show(messageId)).jobs.find(
          (j) => j.data.domain === "eu.insurer.example",
        )!
        expect(insurer.state).toBe("delayed")
        return promoted
      }),
      worker,
    )
    expect(promoted).toBe(1)
  })

  it("leaves a job of a newer version for a newer worker", async () => {
    const deliverer = recordingDeliverer(acceptAll)
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("version"),
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
    })
    const state = await run(
      Effect.gen(function* () {
        const bull = yield* BullBoardQueue
        const job = yield* Effect.promise(() =>
          bull.queue.add("future", { v: JOB_VERSION + 1, messageId: "f1" }, { jobId: "f1/x" }),
        )
        return yield* eventually(
          Effect.promise(() => job.getState()).pipe(Effect.map((s) => (s === "delayed" ? s : undefined))),
        )
      }),
      worker,
    )
    expect(state).toBe("delayed")
    expect(deliverer.requests).toHaveLength(0)
  })
})
