/**
 * The targeted flush after a policy change closes the changed partner's breakers — the outbound
 * adapter's destinations, through the relay's `PartnerBreakers` binding — before it promotes that
 * partner's waiting mail; unchanged partners are left alone.
 */
import { FlushOnPolicyChange, PartnerBreakers, QueueAdmin } from "@mailconnect/delivery-queue"
import { activePolicyView, type PolicyActivation, type PolicySet, PolicyView } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { PartnerBreakersFromDestinations } from "@mailconnect/relay"
import { CertUntrusted, Destinations } from "@mailconnect/smtp-outbound"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
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

const view = (policy: PolicySet, serial: number) => activePolicyView(policy, buildIndex(policy), serial)

const untrusted = {
  error: new CertUntrusted({
    server: "mx.bank.example:25",
    phase: "tls",
    detail: "self-signed",
    attempts: [],
    reason: "self-signed",
    anchor: "public-roots",
  }),
  tls: undefined,
}

describe("flush on policy change", () => {
  it("resets the changed partner's breakers in the outbound adapter before promoting its mail", async () => {
    const before = policySet([partner("bank", ["bank.example"]), partner("insurer", ["insurer.example"])])
    const after = policySet([
      partner("bank", ["bank.example"], { servers: [{ host: "mx2.bank.example", port: 25 }] }),
      partner("insurer", ["insurer.example"]),
    ])
    const events: Array<string> = []
    const activation: PolicyActivation = { previous: view(before, 1), next: view(after, 2) }
    const policyView = Layer.succeed(PolicyView, {
      current: Effect.succeed(activation.next),
      latest: Effect.succeed(activation.next),
      // Delayed a little, so the destinations below have seen the partner's mail first.
      activations: Stream.fromEffect(Effect.as(Effect.sleep("100 millis"), activation)),
    })
    const destinations = Destinations.layer({
      perDestination: 2,
      breakerThreshold: 5,
      breakerCooldownMs: 60_000,
      maxMessagesPerConnection: 100,
      idleTimeoutMs: 5_000,
    })
    const { queue } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("flush"),
      policy: policyView,
      deliverer: recordingDeliverer(acceptAll).layer,
    })
    // The relay's binding, observed: each reset is recorded before it runs.
    const adapter = Layer.effect(
      PartnerBreakers,
      Effect.map(PartnerBreakers, (bound) => ({
        resetPartner: (name: string) =>
          Effect.sync(() => events.push(`adapter reset ${name}`)).pipe(
            Effect.zipRight(bound.resetPartner(name)),
          ),
      })),
    ).pipe(Layer.provide(PartnerBreakersFromDestinations))
    const observed = Layer.effect(
      QueueAdmin,
      Effect.map(QueueAdmin, (real) => ({
        ...real,
        flush: (filter: Parameters<typeof real.flush>[0]) =>
          Effect.sync(() => events.push(`flush ${filter.partner}`)).pipe(Effect.zipRight(real.flush(filter))),
      })),
    ).pipe(Layer.provideMerge(queue))
    await Effect.runPromise(
      Effect.gen(function* () {
        const outbound = yield* Destinations
        // The bank's server failed once: counted against it (the reset clears the count).
        yield* Effect.either(outbound.run("mx.bank.example:25", "bank", () => Effect.fail(untrusted)))
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* Layer.build(FlushOnPolicyChange)
            yield* eventually(Effect.sync(() => (events.includes("flush bank") ? true : undefined)))
          }),
        )
        const states = yield* outbound.states
        expect(states.find((s) => s.key === "mx.bank.example:25")?.consecutiveFailures).toBe(0)
      }).pipe(
        Effect.provide(Layer.merge(observed, adapter.pipe(Layer.provideMerge(destinations)))),
        Effect.scoped,
      ),
    )
    expect(events).toEqual(["adapter reset bank", "flush bank"])
  })
})
