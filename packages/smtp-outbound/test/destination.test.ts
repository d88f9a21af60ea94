/**
 * Destinations: the breaker and the concurrency limit of one resolved next hop, driven with
 * Effect's TestClock (a 60 s cooldown passes in no time). The cached sessions are exercised by the
 * reuse tests against the partner lab (reuse-and-routing.test.ts).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, TestClock } from "effect"
import {
  type AttemptFailure,
  ConnectRefused,
  Destinations,
  type DestinationsConfig,
  reasonOf,
  SmtpTransient,
} from "../src/index"

const refused: AttemptFailure = {
  error: new ConnectRefused({ server: "mx:25", phase: "connect", detail: "ECONNREFUSED", attempts: [] }),
  tls: undefined,
}
const transient: AttemptFailure = {
  error: new SmtpTransient({
    server: "mx:25",
    phase: "rcpt",
    detail: "452 4.2.2 mailbox full",
    attempts: [],
    reply: { code: 452, enhanced: "4.2.2", text: "4.2.2 mailbox full" },
    status: "4.2.2",
  }),
  tls: undefined,
}

const config = (overrides: Partial<DestinationsConfig> = {}): DestinationsConfig => ({
  perDestination: 2,
  breakerThreshold: 2,
  breakerCooldownMs: 60_000,
  maxMessagesPerConnection: 100,
  idleTimeoutMs: 5_000,
  ...overrides,
})

const withDestinations = <A, E>(effect: Effect.Effect<A, E, Destinations>, settings = config()) =>
  Effect.provide(effect, Destinations.layer(settings))

describe("destinations", () => {
  it.effect(
    "opens the breaker after consecutive connect failures, defers without connecting, probes after the cooldown",
    () =>
      Effect.gen(function* () {
        const result = yield* withDestinations(
          Effect.gen(function* () {
            const destinations = yield* Destinations
            let connects = 0
            const failing = () =>
              Effect.suspend(() => {
                connects++
                return Effect.fail(refused)
              })
            yield* Effect.either(destinations.run("mx:bank.example", "bank", failing))
            yield* Effect.either(destinations.run("mx:bank.example", "bank", failing))
            const whileOpen = yield* Effect.either(destinations.run("mx:bank.example", "bank", failing))
            const connectsWhileOpen = connects
            // Other destinations are not affected.
            const other = yield* Effect.either(
              destinations.run("mx:insurer.example", "insurer", () => Effect.succeed("ok")),
            )
            yield* TestClock.adjust("61 seconds")
            const probe = yield* Effect.either(
              destinations.run("mx:bank.example", "bank", () => Effect.succeed("delivered")),
            )
            const states = yield* destinations.states
            return { whileOpen, connectsWhileOpen, other, probe, states }
          }),
        )
        expect(result.connectsWhileOpen).toBe(2)
        expect(result.whileOpen._tag === "Left" && result.whileOpen.left.error).toMatchObject({
          _tag: "CircuitOpen",
          code: "CONNECT_REFUSED",
          retry: "defer",
          status: "4.4.1",
          consecutiveFailures: 2,
        })
        expect(result.whileOpen._tag === "Left" && result.whileOpen.left.error.detail).toMatch(
          /^circuit open until .* after 2 consecutive failures; last: ECONNREFUSED$/,
        )
        // The job keeps it as data under its own tag, never read back from the detail text.
        expect(result.whileOpen._tag === "Left" && reasonOf(result.whileOpen.left.error)).toEqual({
          _tag: "CircuitOpen",
          openUntil: expect.any(Number),
          consecutiveFailures: 2,
        })
        expect(result.other._tag).toBe("Right")
        expect(result.probe._tag).toBe("Right")
        expect(result.states.find((s) => s.key === "mx:bank.example")).toMatchObject({
          consecutiveFailures: 0,
          openUntil: undefined,
        })
      }),
  )

  it.effect("closes the breakers of a partner's destinations when its policy changes, and only those", () =>
    Effect.gen(function* () {
      const result = yield* withDestinations(
        Effect.gen(function* () {
          const destinations = yield* Destinations
          let connects = 0
          const failing = () =>
            Effect.suspend(() => {
              connects++
              return Effect.fail(refused)
            })
          for (const key of ["mx.bank.example:25", "mx.insurer.example:25"])
            for (let i = 0; i < 2; i++)
              yield* Effect.either(destinations.run(key, key.split(".")[1], failing))
          const reset = yield* destinations.resetPartner("bank")
          const before = connects
          // No time has passed: without the reset both breakers would still be open.
          const bank = yield* Effect.either(
            destinations.run("mx.bank.example:25", "bank", () => Effect.succeed("delivered")),
          )
          const insurer = yield* Effect.either(destinations.run("mx.insurer.example:25", "insurer", failing))
          return { reset, bank, insurer, connectsAfterReset: connects - before }
        }),
      )
      expect(result.reset).toEqual(["mx.bank.example:25"])
      expect(result.bank._tag).toBe("Right")
      expect(result.insurer._tag === "Left" && result.insurer.left.error.detail).toMatch(
        /^circuit open until/,
      )
      expect(result.connectsAfterReset).toBe(0)
    }),
  )

  it.effect("does not count a recipient's 4xx against the destination", () =>
    Effect.gen(function* () {
      const states = yield* withDestinations(
        Effect.gen(function* () {
          const destinations = yield* Destinations
          for (let i = 0; i < 5; i++)
            yield* Effect.either(destinations.run("mx:bank.example", "bank", () => Effect.fail(transient)))
          return yield* destinations.states
        }),
      )
      expect(states[0]).toMatchObject({ consecutiveFailures: 0, openUntil: undefined })
    }),
  )

  it.effect("limits concurrent deliveries per destination", () =>
    Effect.gen(function* () {
      const peak = yield* withDestinations(
        Effect.gen(function* () {
          const destinations = yield* Destinations
          let inFlight = 0
          let peak = 0
          const gate = yield* Deferred.make<void>()
          const attempt = () =>
            Effect.gen(function* () {
              inFlight++
              peak = Math.max(peak, inFlight)
              yield* Deferred.await(gate)
              inFlight--
            })
          const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], () =>
            Effect.fork(destinations.run("mx:bank.example", "bank", attempt)),
          )
          yield* Effect.yieldNow()
          yield* Effect.sleep("1 millis").pipe(
            Effect.fork,
            Effect.flatMap(() => TestClock.adjust("1 millis")),
          )
          const during = peak
          yield* Deferred.succeed(gate, undefined)
          yield* Effect.forEach(fibers, Fiber.join)
          return during
        }),
        config({ perDestination: 2, breakerThreshold: 5, breakerCooldownMs: 1_000 }),
      )
      expect(peak).toBe(2)
    }),
  )
})
