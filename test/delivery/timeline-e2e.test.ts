/**
 * The whole 10-day timeline for an unreachable enforce partner, in test time: real Redis, real
 * BullMQ, the real outbound adapter connecting to a closed port, DSNs delivered over SMTP to a
 * lab server standing in for our customer's mailbox server. The test clock is moved to each
 * timeline point and the delayed job promoted, so ten days pass in seconds.
 */

import { BullBoardQueue, type DeliveryJobData, Enqueue, QueueAdmin } from "@mailconnect/delivery-queue"
import { type Lab, startLab } from "@mailconnect/partner-lab"
import { computeTimeline } from "@mailconnect/retry-timeline"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { pollEffect } from "@mailconnect/test-support"
import { Effect, TestClock, TestContext } from "effect"
import { simpleParser } from "mailparser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaultRetry, outboundWorkerLayer, partner, policySet } from "./harness"

let redis: RedisServer
let lab: Lab
beforeAll(async () => {
  redis = await startRedis()
  lab = await startLab({ scenarios: ["good", "closed-port"] })
})
afterAll(async () => {
  await lab?.stop()
  await redis?.stop()
})

const waitFor = <A>(check: Effect.Effect<A | undefined, unknown>) => pollEffect("the worker", check, 20_000)

describe("ten days for an unreachable partner", () => {
  it("attempts exactly at the timeline points, warns once at 4 h, bounces at 10 d, removes the body", async () => {
    const closed = lab.scenario("closed-port")
    const good = lab.scenario("good")
    const policy = policySet(
      [
        partner("unreachable", ["unreachable.example"], {
          servers: [{ host: closed.host, port: closed.port }],
        }),
      ],
      good.port,
    )
    const layer = outboundWorkerLayer({ redisUrl: redis.url, prefix: "tenday", policy })

    const program = Effect.gen(function* () {
      const t0 = Date.now()
      yield* TestClock.setTime(t0)
      const queue = yield* Enqueue
      const admin = yield* QueueAdmin
      const bull = yield* BullBoardQueue
      const { messageId, jobIds } = yield* queue.enqueue({
        sender: "alice@customer.example",
        recipients: ["bob@unreachable.example"],
        body: Buffer.from(
          "From: alice@customer.example\r\nTo: bob@unreachable.example\r\nSubject: contract\r\n\r\nplease sign\r\n",
        ),
      })
      const expected = computeTimeline(t0, defaultRetry).attempts
      const jobOf = Effect.promise(() => bull.queue.getJob(jobIds[0]!))
      const observed: Array<number> = []
      for (let i = 0; i < expected.length; i++) {
        const job = yield* waitFor(
          Effect.gen(function* () {
            const j = yield* jobOf
            const state = yield* Effect.promise(() => j!.getState())
            const data = j!.data as DeliveryJobData
            return data.attemptCount === i + 1 && (state === "delayed" || state === "completed")
              ? j
              : undefined
          }),
        )
        const data = job!.data as DeliveryJobData
        observed.push(data.attempts.at(-1)!.at)
        expect(data.attempts.at(-1)!.code).toBe("CONNECT_REFUSED")
        // Let DSN jobs finish at this point in time before the clock moves on.
        yield* waitFor(
          admin.counts.pipe(Effect.map((c) => (c.waiting === 0 && c.active === 0 ? true : undefined))),
        )
        if (i + 1 < expected.length) {
          expect(data.nextAttemptAt).toBe(expected[i + 1])
          yield* TestClock.setTime(expected[i + 1]!)
          yield* Effect.promise(() => job!.promote())
        }
      }
      const final = yield* admin.show(messageId)
      return { observed, expected, final }
    })

    const { observed, expected, final } = await Effect.runPromise(
      Effect.scoped(program.pipe(Effect.provide(layer))).pipe(Effect.provide(TestContext.TestContext)),
    )
    expect(observed).toEqual(expected)
    expect(expected).toHaveLength(245)
    expect(final.bodyStored).toBe(false)
    expect(final.jobs[0]!.state).toBe("completed")
    expect(final.jobs[0]!.data.results).toMatchObject([
      { recipient: "bob@unreachable.example", outcome: "failed", status: "5.4.7", code: "CONNECT_REFUSED" },
    ])

    const dsns = await Promise.all(good.recorder.messages().map((m) => simpleParser(m.body!)))
    expect(dsns.map((d) => d.subject)).toEqual([
      "Zustellung verzögert / Delivery delayed",
      "Unzustellbar / Undeliverable",
    ])
    expect(good.recorder.messages().map((m) => m.mailFrom)).toEqual(["", ""])
    expect(dsns[0]!.text).toContain("CONNECT_REFUSED (4.4.1)")
    expect(dsns[1]!.text).toContain("CONNECT_REFUSED (5.4.7)")
    expect(dsns[1]!.text).toContain("gave up after 10 days")
    // The delay DSN is dated at the warning point (RFC 5322 dates have whole seconds).
    const warnAt = expected[0]! + defaultRetry.warnAfter
    expect(dsns[0]!.date?.getTime()).toBe(Math.floor(warnAt / 1000) * 1000)
  })
})
