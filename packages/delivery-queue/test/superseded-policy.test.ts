/**
 * A fleet where one relay activates a new bundle first and promotes a partner's waiting mail for
 * it, while another relay — still on the older bundle for a few milliseconds — takes the promoted
 * job. The failed attempt under the older bundle must not send the mail back to its next
 * timeline point (minutes or hours away) or bounce it: the worker reads the store again and, on
 * a newer serial, runs the job at once under it.
 */
import { type ActivePolicyView, activePolicyView, PolicyView } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DeliveryFailed, type DeliveryQueueServices, Enqueue, QueueAdmin } from "../src"
import {
  acceptAll,
  eventually,
  partner,
  policySet,
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
const viewOf = (serial: number, partners: Parameters<typeof policySet>[0]) => {
  const policy = policySet(partners)
  return activePolicyView(policy, buildIndex(policy), serial)
}
const older = viewOf(1, [])
const newer = viewOf(2, [partner("fresh", ["fresh.example"])])

/**
 * The relay's view: `current` is what it has activated; `latest` is what a read of the store
 * finds (`inStore`), activated from then on — as the hot-loading adapter does.
 */
const laggingView = (inStore: ActivePolicyView) => {
  let active = older
  const reads: Array<number> = []
  const layer = Layer.succeed(PolicyView, {
    current: Effect.sync(() => active),
    latest: Effect.sync(() => {
      active = inStore
      reads.push(inStore.serial)
      return active
    }),
    activations: Stream.empty,
  })
  return { layer, reads }
}

const run = <A, E>(
  effect: Effect.Effect<A, E, DeliveryQueueServices>,
  layer: Layer.Layer<DeliveryQueueServices, unknown>,
) => Effect.runPromise(Effect.scoped(Effect.provide(effect, layer)))

/** Not a partner under the older bundle: the opportunistic attempt fails (defer); the partner route delivers. */
const byPolicy = () =>
  recordingDeliverer((request) =>
    request.route.policy.partner?.name === "fresh"
      ? acceptAll(request)
      : Either.left(
          new DeliveryFailed({ code: "CONNECT_REFUSED", status: "4.4.1", server: "mx.fresh.example:25" }),
        ),
  )

const submitAndWait = (state: "completed" | "delayed") =>
  Effect.gen(function* () {
    const queue = yield* Enqueue
    const admin = yield* QueueAdmin
    const { messageId } = yield* queue.enqueue({
      sender: "alice@customer.example",
      recipients: ["clerk@fresh.example"],
      body,
    })
    return yield* eventually(
      admin
        .show(messageId)
        .pipe(
          Effect.map((v) =>
            v.jobs[0]?.state === state && v.jobs[0].data.attempts.length > 0 ? v.jobs[0] : undefined,
          ),
        ),
    )
  })

describe("a failed attempt under a bundle the fleet has replaced", () => {
  it("runs again at once under the newer serial: delivered, one attempt counted, the void one in the job log", async () => {
    const view = laggingView(newer)
    const deliverer = byPolicy()
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("superseded"),
      policy: view.layer,
      deliverer: deliverer.layer,
    })
    const job = await run(submitAndWait("completed"), worker)
    expect(deliverer.requests.map((r) => [r.route.policy.partner?.name, r.serial])).toEqual([
      [undefined, 1],
      ["fresh", 2],
    ])
    expect(job.data.attempts.map((a) => [a.serial, a.delivered])).toEqual([[2, 1]])
    expect(job.log[0]).toMatch(
      /attempt under serial 1 failed \(CONNECT_REFUSED 4\.4\.1\); serial 2 is active now: retried under it at once, not counted$/,
    )
    expect(view.reads).toEqual([2])
  })

  it("is counted and waits for its next timeline point when the store holds no newer serial", async () => {
    const view = laggingView(older)
    const deliverer = byPolicy()
    const { worker } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("not-superseded"),
      policy: view.layer,
      deliverer: deliverer.layer,
    })
    const job = await run(submitAndWait("delayed"), worker)
    expect(deliverer.requests.map((r) => [r.route.policy.partner?.name, r.serial])).toEqual([[undefined, 1]])
    expect(job.data.attempts.map((a) => [a.serial, a.code])).toEqual([[1, "CONNECT_REFUSED"]])
    // The first point of the default timeline: five minutes after the message was queued.
    expect(job.data.nextAttemptAt! - job.data.queuedAt).toBe(5 * 60_000)
    expect(job.log.join("\n")).not.toContain("retried under it")
    expect(view.reads).toEqual([1])
  })
})
