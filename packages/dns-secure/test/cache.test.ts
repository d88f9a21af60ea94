/**
 * Answers are kept for their TTL (capped), failures never: counted at a loopback server that
 * answers every MX query (with AD) or, for one name, SERVFAIL. Virtual time decides expiry.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { type DnsServer, makeSecureDns, parseServer } from "../src"
import { responseFor, startFakeServer } from "./fake-server"

const AD = 1 << 5

const withServer = <A, E>(use: (server: DnsServer, queries: () => number) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.promise(() =>
      startFakeServer((exchange) => {
        const question = exchange.query.questions![0]!
        if (question.name.startsWith("bogus"))
          return exchange.reply(responseFor(exchange.query, [], { rcode: 2 }))
        exchange.reply(
          responseFor(
            exchange.query,
            question.type === "MX"
              ? [
                  {
                    type: "MX",
                    name: question.name,
                    ttl: 60,
                    data: { preference: 10, exchange: `mx.${question.name}` },
                  },
                ]
              : [],
            { flags: AD },
          ),
        )
      }),
    ),
    (fake) => use(parseServer(fake.server) as DnsServer, () => fake.exchanges.length),
    (fake) => Effect.promise(() => fake.stop()),
  )

describe("the answer cache", () => {
  it.effect("asks once within the TTL, again after it", () =>
    withServer((server, queries) =>
      Effect.gen(function* () {
        const dns = makeSecureDns([server], { timeout: "2 seconds" })
        const first = yield* dns.mx("cached.example")
        const second = yield* dns.mx("Cached.Example.")
        expect(second).toEqual(first)
        expect(first.secure).toBe(true)
        expect(queries()).toBe(1)
        yield* TestClock.adjust("61 seconds")
        yield* dns.mx("cached.example")
        expect(queries()).toBe(2)
      }),
    ),
  )

  it.effect("caps the TTL, and keeps nothing when told so", () =>
    withServer((server, queries) =>
      Effect.gen(function* () {
        const capped = makeSecureDns([server], { cacheMaxTtlSeconds: 10 })
        yield* capped.mx("capped.example")
        yield* TestClock.adjust("11 seconds")
        yield* capped.mx("capped.example")
        expect(queries()).toBe(2)
        const uncached = makeSecureDns([server], { cacheMaxTtlSeconds: 0 })
        yield* uncached.mx("uncached.example")
        yield* uncached.mx("uncached.example")
        expect(queries()).toBe(4)
      }),
    ),
  )

  it.effect("never keeps a failure: a bogus answer is asked again", () =>
    withServer((server, queries) =>
      Effect.gen(function* () {
        const dns = makeSecureDns([server], { timeout: "2 seconds", attempts: 1 })
        const first = yield* Effect.either(dns.mx("bogus.example"))
        const second = yield* Effect.either(dns.mx("bogus.example"))
        expect(first._tag === "Left" && first.left._tag).toBe("DnsBogus")
        expect(second._tag === "Left" && second.left._tag).toBe("DnsBogus")
        expect(queries()).toBe(2)
      }),
    ),
  )
})
