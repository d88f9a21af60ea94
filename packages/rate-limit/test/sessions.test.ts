/**
 * Connections on a real redis-server: leased slots held while the caller's scope is open, freed
 * when it closes, renewed while held, and freed by expiry when the relay holding them is killed
 * (a real process, SIGKILL: no finalizer runs).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { pollEffect, uniquePrefix } from "@mailconnect/test-support"
import { Effect, Exit, Scope } from "effect"
import { afterAll, afterEach, beforeAll } from "vitest"
import { fleetKeys, relayLimiter } from "./lab"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL")
})

/** A relay process holding bank's only slot until killed; resolves once it holds it. */
const holdSlotInAnotherProcess = (prefix: string, leaseMs: number) =>
  Effect.async<ChildProcess, Error>((resume) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(import.meta.dirname, "hold-slot.ts"),
        redis.url,
        prefix,
        "bank",
        String(leaseMs),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    children.push(child)
    let output = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('"Admitted"')) resume(Effect.succeed(child))
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on("exit", (code) => resume(Effect.fail(new Error(`hold-slot exited with ${code}: ${output}`))))
  })

const TWO = { connections: 2 }

describe("connections", () => {
  it.scopedLive("holds a slot while the scope is open and frees it when the scope closes", () =>
    Effect.gen(function* () {
      const prefix = uniquePrefix("slots")
      yield* fleetKeys(redis.url, prefix)
      const [a, b] = yield* Effect.all([relayLimiter(redis.url, prefix), relayLimiter(redis.url, prefix)])
      const first = yield* Scope.make()
      expect(yield* a.admit("bank", TWO, "job-1").pipe(Scope.extend(first))).toEqual({ _tag: "Admitted" })
      const second = yield* Scope.make()
      expect(yield* b.admit("bank", TWO, "job-2").pipe(Scope.extend(second))).toEqual({ _tag: "Admitted" })
      const third = yield* b.admit("bank", TWO, "job-3").pipe(Effect.scoped)
      expect(third).toMatchObject({ _tag: "Throttled", limit: "connections" })
      // Refused at most the configured retry (1 s) ahead: a slot may come free long before its lease ends.
      expect(third._tag === "Throttled" && third.retryAfterMs).toBeLessThanOrEqual(1_000)
      // Another partner's slots are its own.
      expect(yield* b.admit("court", TWO, "job-4").pipe(Effect.scoped)).toEqual({ _tag: "Admitted" })
      yield* Scope.close(first, Exit.void)
      expect(yield* b.admit("bank", TWO, "job-3").pipe(Effect.scoped)).toEqual({ _tag: "Admitted" })
      yield* Scope.close(second, Exit.void)
    }),
  )

  it.scopedLive("takes no slot when the rate refuses, and no rate when the slots are taken", () =>
    Effect.gen(function* () {
      const prefix = uniquePrefix("both")
      const keys = yield* fleetKeys(redis.url, prefix)
      const limiter = yield* relayLimiter(redis.url, prefix)
      const limits = { messagesPerMinute: 1, connections: 1 }
      const held = yield* Scope.make()
      expect(yield* limiter.admit("bank", limits, "job-1").pipe(Scope.extend(held))).toEqual({
        _tag: "Admitted",
      })
      expect(yield* limiter.admit("bank", limits, "job-2").pipe(Effect.scoped)).toMatchObject({
        limit: "connections",
      })
      yield* Scope.close(held, Exit.void)
      expect(yield* limiter.admit("bank", limits, "job-2").pipe(Effect.scoped)).toMatchObject({
        limit: "messagesPerMinute",
      })
      expect(yield* keys.call("ZCARD", keys.keys.key("limits", "bank", "sessions"))).toBe(0)
      expect(yield* keys.call("ZCARD", keys.keys.key("limits", "bank", "sent"))).toBe(1)
    }),
  )

  it.scopedLive("renews a held lease, and a killed relay's slot comes free when its lease expires", () =>
    Effect.gen(function* () {
      const prefix = uniquePrefix("lease")
      const keys = yield* fleetKeys(redis.url, prefix)
      const sessions = keys.keys.key("limits", "bank", "sessions")
      const leaseMs = 600
      const child = yield* holdSlotInAnotherProcess(prefix, leaseMs)
      const limiter = yield* relayLimiter(redis.url, prefix, { leaseMs })
      const one = { connections: 1 }
      // Three leases long: still held, so the holder renewed it.
      yield* Effect.sleep(3 * leaseMs)
      expect(yield* limiter.admit("bank", one, "job").pipe(Effect.scoped)).toMatchObject({
        limit: "connections",
      })
      const [, expiry] = (yield* keys.call("ZRANGE", sessions, 0, 0, "WITHSCORES")) as [string, string]
      child.kill("SIGKILL")
      // Killed: no release ran, the slot stays taken until the lease it last renewed runs out…
      expect(yield* limiter.admit("bank", one, "job").pipe(Effect.scoped)).toMatchObject({
        limit: "connections",
      })
      // …and is free after it, without anyone releasing it.
      const admittedAt = yield* pollEffect(
        "the killed relay's slot to expire",
        limiter.admit("bank", one, "job").pipe(
          Effect.scoped,
          Effect.flatMap((d) =>
            d._tag === "Admitted"
              ? keys.call("TIME").pipe(Effect.map((t) => t as [string, string]))
              : Effect.succeed(undefined),
          ),
        ),
        { timeoutMs: 10_000 },
      )
      const redisNow = Number(admittedAt[0]) * 1000 + Math.floor(Number(admittedAt[1]) / 1000)
      expect(redisNow).toBeGreaterThanOrEqual(Number(expiry))
    }),
  )
})
