/**
 * A relay that takes one session slot of `partner` and then hangs on to it until it is killed:
 * `node --import tsx hold-slot.ts <redis url> <prefix> <partner> <lease ms>`. Prints the decision.
 */
import { redisLayer } from "@mailconnect/test-support"
import { Effect, Layer } from "effect"
import { RateLimiter } from "../src"

const [url, prefix, partner, lease] = process.argv.slice(2) as [string, string, string, string]

Effect.runPromise(
  Effect.gen(function* () {
    const limiter = yield* RateLimiter
    const decision = yield* limiter.admit(partner, { connections: 1 }, "doomed-relay")
    process.stdout.write(`${JSON.stringify(decision)}\n`)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provide(
      RateLimiter.layer({ leaseMs: Number(lease) }).pipe(Layer.provide(redisLayer(url, prefix))),
    ),
  ),
).catch((e) => {
  process.stderr.write(`${String(e)}\n`)
  process.exit(1)
})
