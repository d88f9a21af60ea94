import { ConfigProvider, Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { heapGrowingPercent } from "../src/layers/heap"

const load = (env: Record<string, string>) =>
  Effect.runSync(
    Effect.either(heapGrowingPercent).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    ),
  )

describe("RELAY_HEAP_GROWING_PERCENT", () => {
  it("limits the heap's growth to 50 % by default, takes a percent, and `off` leaves it to V8", () => {
    expect(load({})).toEqual(Either.right(50))
    expect(load({ RELAY_HEAP_GROWING_PERCENT: "25" })).toEqual(Either.right(25))
    expect(load({ RELAY_HEAP_GROWING_PERCENT: "off" })).toEqual(Either.right(undefined))
  })

  it("refuses what V8 would misread, naming the variable", () => {
    for (const bad of ["0", "5", "50%", "1e2", "-50", "401", "fast", ""]) {
      const result = load({ RELAY_HEAP_GROWING_PERCENT: bad })
      expect(Either.isLeft(result), bad).toBe(true)
      if (Either.isLeft(result)) expect(String(result.left)).toContain("RELAY_HEAP_GROWING_PERCENT")
    }
  })
})
