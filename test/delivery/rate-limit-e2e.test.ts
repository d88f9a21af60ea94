/**
 * A partner's limits holding under load, fleet-wide: two relays (each the queue, a worker and the
 * real outbound adapter, bound to the throttle as the relay binds it) on one real redis-server,
 * delivering a burst to a limited partner and one to an unlimited partner, both real lab SMTP
 * servers with TLS. What is measured is what the lab servers recorded: when each transaction
 * began (MAIL FROM) and when its message was complete.
 *
 * The rate is 60/min counted in a 2 s window (RELAY_RATE_LIMIT_WINDOW=2s), i.e. 2 in any 2 s.
 * The limiter counts at admission, the lab at the end of DATA; the delivery in between varies
 * from message to message (a fresh connection with its TLS handshake, or a cached session), so
 * the window measured at the lab is allowed to be shorter by TOLERANCE_MS. No wall-clock speed
 * is asserted.
 */
import { Enqueue, type JobView, QueueAdmin } from "@mailconnect/delivery-queue"
import { type Lab, type LabScenario, startLab } from "@mailconnect/partner-lab"
import type { Partner, PolicySet } from "@mailconnect/policy"
import { rateLimitsLayer } from "@mailconnect/relay"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { redisLayer } from "@mailconnect/test-support"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { eventually, outboundWorkerLayer, partner, policySet, uniquePrefix } from "./harness"

const WINDOW_MS = 2_000
const PER_WINDOW = 2
const TOLERANCE_MS = 600
const MESSAGES = 8

let redis: RedisServer
let lab: Lab
beforeAll(async () => {
  redis = await startRedis()
  lab = await startLab({ scenarios: ["good", "rcpt-mixed"] })
})
afterAll(async () => {
  await lab?.stop()
  await redis?.stop()
})

/** An enforcing partner on one lab server, verified against the lab's CA. */
const labPartner = (name: string, server: LabScenario, overrides: Partial<Partner> = {}): Partner =>
  partner(name, [`${name}.example`], {
    servers: [{ host: server.host, port: server.port }],
    tls: {
      mode: "enforce",
      minVersion: "TLSv1.2",
      verify: {
        trust: "pkix",
        names: [server.name],
        pins: [],
        ca: { file: "lab.pem", pem: lab.pki.root.certPem, sha256: "-", notAfter: "2036-01-01T00:00:00Z" },
      },
    },
    ...overrides,
  })

/** One relay of the fleet: its own connections, the shared Redis and prefix, the throttle bound. */
const relay = (policy: PolicySet, prefix: string, name: string) =>
  outboundWorkerLayer({ redisUrl: redis.url, prefix, policy, ehloName: name }).pipe(
    Layer.provide(
      rateLimitsLayer({ windowMs: WINDOW_MS }).pipe(Layer.provide(redisLayer(redis.url, prefix))),
    ),
  )

const enqueueTo = (domain: string, i: number) =>
  Effect.flatMap(Enqueue, (queue) =>
    queue.enqueue({
      sender: "alice@customer.example",
      recipients: [`user${i}@${domain}`],
      body: Buffer.from(`Subject: burst ${i} to ${domain}\r\n\r\nhello\r\n`),
    }),
  )

const receivedTimes = (server: LabScenario) =>
  server.recorder
    .messages()
    .map((t) => t.receivedAt!)
    .sort((a, b) => a - b)

/**
 * MESSAGES to bank.example and to shop.example, queued all at once through both relays, both
 * delivering; the jobs once every message arrived and every job completed.
 */
const deliverBurst = (policy: PolicySet, limited: LabScenario, unlimited: LabScenario) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const prefix = uniquePrefix("rate-e2e")
      const [a, b] = yield* Effect.all([
        Layer.build(relay(policy, prefix, "relay-a.test")),
        Layer.build(relay(policy, prefix, "relay-b.test")),
      ])
      const ids = yield* Effect.all(
        Array.from({ length: MESSAGES }, (_, i) =>
          Effect.all([enqueueTo("bank.example", i), enqueueTo("shop.example", i)]).pipe(
            Effect.provide(i % 2 === 0 ? a : b),
          ),
        ),
        { concurrency: "unbounded" },
      )
      yield* eventually(
        Effect.sync(() =>
          limited.recorder.messages().length >= MESSAGES && unlimited.recorder.messages().length >= MESSAGES
            ? true
            : undefined,
        ),
        60_000,
      )
      const admin = yield* Effect.provide(QueueAdmin, a)
      const show = (messageId: string) =>
        eventually(
          admin
            .show(messageId)
            .pipe(Effect.map((v) => (v.jobs[0]?.state === "completed" ? v.jobs[0] : undefined))),
        )
      return {
        bank: yield* Effect.forEach(ids, ([toBank]) => show(toBank.messageId)),
        shop: yield* Effect.forEach(ids, ([, toShop]) => show(toShop.messageId)),
      }
    }).pipe(Effect.scoped),
  )

const throttledLines = (job: JobView) => job.log.filter((l) => l.includes("| throttled: "))

/** Held back without counting as an attempt: one attempt each, delivered. */
const expectOneAttemptEach = (jobs: ReadonlyArray<JobView>) => {
  for (const job of jobs) {
    expect(job.data.attemptCount).toBe(1)
    expect(job.data.pending).toEqual([])
  }
}

describe("a partner's limits under load, two relays", () => {
  beforeEach(() => {
    for (const server of lab.scenarios) server.recorder.clear()
  })

  it("delivers the limited partner no faster than its rate fleet-wide, and the other partner unthrottled", async () => {
    const limited = lab.scenario("good")
    const unlimited = lab.scenario("rcpt-mixed")
    const policy = policySet([
      labPartner("bank", limited, { limits: { messagesPerMinute: 60 } }),
      labPartner("shop", unlimited),
    ])
    const jobs = await deliverBurst(policy, limited, unlimited)

    const bank = receivedTimes(limited)
    const shop = receivedTimes(unlimited)
    expect(bank).toHaveLength(MESSAGES)
    expect(shop).toHaveLength(MESSAGES)
    // No more than PER_WINDOW in any window: the (k + PER_WINDOW)-th arrives a window after the k-th.
    for (let k = 0; k + PER_WINDOW < bank.length; k++)
      expect(bank[k + PER_WINDOW]! - bank[k]!).toBeGreaterThanOrEqual(WINDOW_MS - TOLERANCE_MS)
    // The other partner did not queue behind the limited one.
    expect(shop.at(-1)!).toBeLessThan(bank.at(-1)!)

    expectOneAttemptEach([...jobs.bank, ...jobs.shop])
    const bankLines = jobs.bank.flatMap(throttledLines)
    expect(bankLines.length).toBeGreaterThanOrEqual(MESSAGES - PER_WINDOW)
    for (const line of bankLines)
      expect(line).toMatch(/\| throttled: bank at 60\/min, next at \d{4}-\d\d-\d\dT/)
    expect(jobs.shop.flatMap(throttledLines)).toEqual([])
  })

  it("never has two transactions open to a partner allowed one connection, across both relays", async () => {
    const limited = lab.scenario("good")
    const unlimited = lab.scenario("rcpt-mixed")
    const policy = policySet([
      labPartner("bank", limited, { limits: { connections: 1 } }),
      labPartner("shop", unlimited),
    ])
    const jobs = await deliverBurst(policy, limited, unlimited)

    // Causal, no tolerance: a slot is released only after the partner's 250 to the last dot.
    const spans = (server: LabScenario) =>
      server.recorder
        .messages()
        .map((t) => [t.startedAt!, t.receivedAt!] as const)
        .sort((x, y) => x[0] - y[0])
    const bank = spans(limited)
    expect(bank).toHaveLength(MESSAGES)
    for (let k = 1; k < bank.length; k++) expect(bank[k]![0]).toBeGreaterThanOrEqual(bank[k - 1]![1])
    // Unlimited, the same burst overlaps (two relays, four deliveries at a time each): the check above can fail.
    const shop = spans(unlimited)
    expect(shop.some(([start], k) => k > 0 && start < shop[k - 1]![1])).toBe(true)

    expectOneAttemptEach([...jobs.bank, ...jobs.shop])
    for (const line of jobs.bank.flatMap(throttledLines))
      expect(line).toContain("| throttled: bank at 1 connection, next at ")
    expect(jobs.shop.flatMap(throttledLines)).toEqual([])
  })
})
