/**
 * A job whose lock lapses more than once is still delivered. BullMQ's default fails a job the
 * second time its lock lapses — over its whole life — without running it again: no delivery, no
 * DSN (the chaos soak lost a message so). Here two real workers die holding the job in turn —
 * their delivery hangs, they are shut down and their connections cut past the close budget, as a
 * SIGKILL or a Redis pause leaves it — and a third must deliver it.
 */
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import { Duration, Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Deliverer, Enqueue } from "../src"
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

const LOCK_MS = 1_000
const policy = policyViewLayer(policySet([partner("bank", ["bank.example"])]))

const layers = (prefix: string, deliverer: Layer.Layer<Deliverer>) =>
  queueLayers({
    redisUrl: redis.url,
    prefix,
    policy,
    deliverer,
    concurrency: 1,
    lockDurationMs: LOCK_MS,
    // A short close budget: a worker whose delivery hangs has its connections cut, its lock left to lapse.
    closeBudget: Duration.seconds(1),
  })

/** A delivery that never ends: the worker holds the job until it is shut down. */
const hanging = () => {
  let calls = 0
  const layer = Layer.succeed(Deliverer, {
    deliver: () =>
      Effect.suspend(() => {
        calls++
        return Effect.never
      }),
  })
  return { layer, calls: () => calls }
}

describe("a job whose lock lapsed twice", () => {
  it("is run a third time and delivered, not failed by BullMQ's stall limit", async () => {
    const prefix = uniquePrefix("stalled")
    const { messageId } = await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(Enqueue, (q) =>
          q.enqueue({
            sender: "a@customer.example",
            recipients: ["b@bank.example"],
            body: Buffer.from("x\r\n"),
          }),
        ).pipe(Effect.provide(layers(prefix, recordingDeliverer(acceptAll).layer).queue)),
      ),
    )
    const [jobKey] = (await redisCommand(
      redis.port,
      "KEYS",
      `{${prefix}}:delivery:${messageId}/*`,
    )) as ReadonlyArray<string>
    expect(jobKey).toBeDefined()

    // Two workers in turn take the job and die with it (the second finds it only after the
    // first one's lock lapsed: the stall check hands it on).
    for (const death of [1, 2]) {
      const stuck = hanging()
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            yield* eventually(Effect.sync(() => (stuck.calls() > 0 ? true : undefined)))
          }).pipe(Effect.provide(layers(prefix, stuck.layer).worker)),
        ),
      )
      expect(stuck.calls()).toBe(1)
      // The second worker could only have it through a stall; the counter says how many.
      if (death === 2) expect(await redisCommand(redis.port, "HGET", jobKey!, "stc")).toBe("1")
    }

    const deliverer = recordingDeliverer(acceptAll)
    await Effect.runPromise(
      Effect.scoped(
        eventually(
          Effect.promise(() =>
            redisCommand(redis.port, "ZSCORE", `{${prefix}}:delivery:completed`, jobKey!.split(":").at(-1)!),
          ).pipe(Effect.map((score) => (score === null ? undefined : true))),
        ).pipe(Effect.provide(layers(prefix, deliverer.layer).worker)),
      ),
    )
    expect(deliverer.requests.map((r) => r.messageId)).toEqual([messageId])
    // Two lapsed locks: BullMQ's default limit (1) would have failed it unrun.
    expect(await redisCommand(redis.port, "HGET", jobKey!, "stc")).toBe("2")
    expect(await redisCommand(redis.port, "HGET", jobKey!, "defa")).toBe(null)
    expect(await redisCommand(redis.port, "ZCARD", `{${prefix}}:delivery:failed`)).toBe(0)
  })
})
