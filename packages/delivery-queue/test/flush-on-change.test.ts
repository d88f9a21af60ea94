/**
 * The targeted flush after a policy change closes the changed partner's breakers — this
 * package's destination actors and any bound elsewhere (`PartnerBreakers`, the outbound
 * adapter's) — before it promotes that partner's waiting mail; unchanged partners are left alone.
 */
import { CURRENT_SCHEMA, makeLookup, type PolicySet } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { type Activation, type ActiveBundle, ActivePolicy } from "@mailconnect/policy-store"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Layer, Option, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  DeliveryFailed,
  DeliveryQueue,
  DestinationActors,
  FlushOnPolicyChange,
  PartnerBreakers,
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

const bundle = (policy: PolicySet, serial: number): ActiveBundle => {
  const index = buildIndex(policy)
  return {
    payload: {
      schema: CURRENT_SCHEMA,
      serial,
      createdAt: "2026-12-01T00:00:00Z",
      source: { commit: "c" },
      policy,
      index,
    },
    lookup: makeLookup(policy, index),
    digest: `sha256:${serial}`,
    serial,
    schema: CURRENT_SCHEMA,
    keyId: "k",
    origin: "redis",
    activatedAt: 0,
  }
}

describe("flush on policy change", () => {
  it("resets the changed partner's breakers here and in the bound adapter before promoting its mail", async () => {
    const before = policySet([partner("bank", ["bank.example"]), partner("insurer", ["insurer.example"])])
    const after = policySet([
      partner("bank", ["bank.example"], { servers: [{ host: "mx2.bank.example", port: 25 }] }),
      partner("insurer", ["insurer.example"]),
    ])
    const events: Array<string> = []
    const activation: Activation = { previous: Option.some(bundle(before, 1)), next: bundle(after, 2) }
    const activePolicy = Layer.succeed(ActivePolicy, {
      current: Effect.succeed(Option.some(activation.next)),
      changes: Stream.make(activation.next),
      // Delayed a little, so the actors below have seen the partner's mail first.
      activations: Stream.fromEffect(Effect.as(Effect.sleep("100 millis"), activation)),
      refresh: Effect.succeed({ _tag: "Empty" } as const),
      rejectCounts: Effect.succeed({}),
      floor: Effect.succeed(2),
      supportedSchemas: [CURRENT_SCHEMA],
    })
    const adapter = Layer.succeed(PartnerBreakers, {
      resetPartner: (name) =>
        Effect.sync(() => {
          events.push(`adapter reset ${name}`)
          return [`adapter:${name}`]
        }),
    })
    const { queue } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("flush"),
      policy: policyViewLayer(after),
      deliverer: recordingDeliverer(acceptAll).layer,
    })
    const observed = Layer.effect(
      DeliveryQueue,
      Effect.map(DeliveryQueue, (real) => ({
        ...real,
        flush: (filter: Parameters<typeof real.flush>[0]) =>
          Effect.sync(() => events.push(`flush ${filter.partner}`)).pipe(Effect.zipRight(real.flush(filter))),
      })),
    ).pipe(Layer.provideMerge(queue))
    await Effect.runPromise(
      Effect.gen(function* () {
        const actors = yield* DestinationActors
        // The bank's server failed once: counted against it (the reset clears the count).
        yield* Effect.either(
          actors.run(
            "mx.bank.example:25",
            Effect.fail(new DeliveryFailed({ code: "CERT_UNTRUSTED", retry: "defer", status: "4.7.5" })),
            "bank",
          ),
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* Layer.build(FlushOnPolicyChange)
            yield* eventually(Effect.sync(() => (events.includes("flush bank") ? true : undefined)))
          }),
        )
        const states = yield* actors.states
        expect(states.find((s) => s.key === "mx.bank.example:25")?.consecutiveFailures).toBe(0)
      }).pipe(Effect.provide(Layer.mergeAll(observed, activePolicy, adapter))),
    )
    expect(events).toEqual(["adapter reset bank", "flush bank"])
  })
})
