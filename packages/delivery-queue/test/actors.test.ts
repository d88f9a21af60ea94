import { Deferred, Effect, Fiber, TestClock, TestContext } from "effect"
import { describe, expect, it } from "vitest"
import { DeliveryFailed, DestinationActors } from "../src"

const refused = new DeliveryFailed({
  code: "CONNECT_REFUSED",
  retry: "defer",
  status: "4.4.1",
  server: "mx:25",
  detail: "ECONNREFUSED",
})
const transient = new DeliveryFailed({
  code: "SMTP_TRANSIENT",
  retry: "defer",
  status: "4.2.2",
  server: "mx:25",
})

const run = <A, E>(
  effect: Effect.Effect<A, E, DestinationActors>,
  config = { perDestination: 2, breakerThreshold: 2, breakerCooldownMs: 60_000 },
) =>
  Effect.runPromise(
    effect.pipe(Effect.provide(DestinationActors.layer(config)), Effect.provide(TestContext.TestContext)),
  )

describe("destination actors", () => {
  it("opens the breaker after consecutive connect failures, defers without connecting, probes after the cooldown", async () => {
    const result = await run(
      Effect.gen(function* () {
        const actors = yield* DestinationActors
        let connects = 0
        const failing = Effect.suspend(() => {
          connects++
          return Effect.fail(refused)
        })
        yield* Effect.either(actors.run("mx:bank.example", failing))
        yield* Effect.either(actors.run("mx:bank.example", failing))
        const whileOpen = yield* Effect.either(actors.run("mx:bank.example", failing))
        const connectsWhileOpen = connects
        // Other destinations are not affected.
        const other = yield* Effect.either(actors.run("mx:insurer.example", Effect.succeed("ok")))
        yield* TestClock.adjust("61 seconds")
        const probe = yield* Effect.either(actors.run("mx:bank.example", Effect.succeed("delivered")))
        const states = yield* actors.states
        return { whileOpen, connectsWhileOpen, other, probe, states }
      }),
    )
    expect(result.connectsWhileOpen).toBe(2)
    expect(result.whileOpen._tag === "Left" && result.whileOpen.left.code).toBe("CONNECT_REFUSED")
    expect(result.whileOpen._tag === "Left" && result.whileOpen.left.detail).toMatch(
      /^circuit open until .* after 2 consecutive failures; last: ECONNREFUSED$/,
    )
    expect(result.other._tag).toBe("Right")
    expect(result.probe._tag).toBe("Right")
    expect(result.states.find((s) => s.key === "mx:bank.example")).toMatchObject({
      consecutiveFailures: 0,
      openUntil: undefined,
    })
  })

  it("closes the breakers of a partner's destinations when its policy changes, and only those", async () => {
    const result = await run(
      Effect.gen(function* () {
        const actors = yield* DestinationActors
        let connects = 0
        const failing = Effect.suspend(() => {
          connects++
          return Effect.fail(refused)
        })
        for (const key of ["mx.bank.example:25", "mx.insurer.example:25"])
          for (let i = 0; i < 2; i++) yield* Effect.either(actors.run(key, failing, key.split(".")[1]))
        const reset = yield* actors.resetPartner("bank")
        const before = connects
        // No time has passed: without the reset both breakers would still be open.
        const bank = yield* Effect.either(
          actors.run("mx.bank.example:25", Effect.succeed("delivered"), "bank"),
        )
        const insurer = yield* Effect.either(actors.run("mx.insurer.example:25", failing, "insurer"))
        return { reset, bank, insurer, connectsAfterReset: connects - before }
      }),
    )
    expect(result.reset).toEqual(["mx.bank.example:25"])
    expect(result.bank._tag).toBe("Right")
    expect(result.insurer._tag === "Left" && result.insurer.left.detail).toMatch(/^circuit open until/)
    expect(result.connectsAfterReset).toBe(0)
  })

  it("does not count a recipient's 4xx against the destination", async () => {
    const states = await run(
      Effect.gen(function* () {
        const actors = yield* DestinationActors
        for (let i = 0; i < 5; i++)
          yield* Effect.either(actors.run("mx:bank.example", Effect.fail(transient)))
        return yield* actors.states
      }),
    )
    expect(states[0]).toMatchObject({ consecutiveFailures: 0, openUntil: undefined })
  })

  it("limits concurrent deliveries per destination", async () => {
    const peak = await run(
      Effect.gen(function* () {
        const actors = yield* DestinationActors
        let inFlight = 0
        let peak = 0
        const gate = yield* Deferred.make<void>()
        const attempt = Effect.gen(function* () {
          inFlight++
          peak = Math.max(peak, inFlight)
          yield* Deferred.await(gate)
          inFlight--
        })
        const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], () =>
          Effect.fork(actors.run("mx:bank.example", attempt)),
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
      { perDestination: 2, breakerThreshold: 5, breakerCooldownMs: 1_000 },
    )
    expect(peak).toBe(2)
  })
})
