/**
 * The cache of successful logins (`auth-cache.ts`): a hit only for the exact user, stored hash and
 * password, within the TTL (TestClock), the oldest entry dropped beyond the bound. Then attacked
 * through a real submission listener: a password changed or a user removed in the users file
 * must lock the old credentials out at once, although they were cached a moment before; a wrong
 * password is never a hit.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { it as effectIt } from "@effect/vitest"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { customerDomains, policyWith, waitFor } from "@mailconnect/test-support"
import { Effect, TestClock } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory, formatUsersFile, hashPassword, type UserRecord } from "../src"
import { makeVerificationCache } from "../src/auth-cache"
import { type RunningIngress, send, startTestIngress, testIngressConfig } from "./harness"

describe("verification cache", () => {
  effectIt.effect("hits only for the same name, stored hash and password, within the TTL", () =>
    Effect.gen(function* () {
      const cache = makeVerificationCache({ maxEntries: 10, ttlMs: 60_000 })
      expect(yield* cache.knows("alice", "scrypt$h1", "pw")).toBe(false)
      yield* cache.remember("alice", "scrypt$h1", "pw")
      expect(yield* cache.knows("alice", "scrypt$h1", "pw")).toBe(true)
      expect(yield* cache.knows("alice", "scrypt$h1", "pw2")).toBe(false)
      expect(yield* cache.knows("alice", "scrypt$h2", "pw")).toBe(false)
      expect(yield* cache.knows("bob", "scrypt$h1", "pw")).toBe(false)
      // No confusion between fields: ("a", "b\0c") is not ("a\0b", "c").
      yield* cache.remember("a", "b", "c")
      expect(yield* cache.knows("ab", "", "c")).toBe(false)
      yield* TestClock.adjust("59 seconds")
      expect(yield* cache.knows("alice", "scrypt$h1", "pw")).toBe(true)
      yield* TestClock.adjust("1 second")
      expect(yield* cache.knows("alice", "scrypt$h1", "pw")).toBe(false)
    }),
  )

  effectIt.effect("keeps at most maxEntries, dropping the oldest; 0 keeps nothing", () =>
    Effect.gen(function* () {
      const cache = makeVerificationCache({ maxEntries: 2, ttlMs: 60_000 })
      yield* cache.remember("u1", "h", "p")
      yield* cache.remember("u2", "h", "p")
      yield* cache.remember("u3", "h", "p")
      expect(cache.size()).toBe(2)
      expect(yield* cache.knows("u1", "h", "p")).toBe(false)
      expect(yield* cache.knows("u3", "h", "p")).toBe(true)
      const none = makeVerificationCache({ maxEntries: 0, ttlMs: 60_000 })
      yield* none.remember("u1", "h", "p")
      expect(yield* none.knows("u1", "h", "p")).toBe(false)
    }),
  )
})

let redis: RedisServer
let ingress: RunningIngress
let ca = ""
let usersFile = ""

const writeUsers = (users: ReadonlyArray<UserRecord>) => writeFileSync(usersFile, formatUsersFile(users))

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "auth cache root" })
  ca = root.certPem
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  usersFile = join(mkdtempSync(join(tmpdir(), "mc-users-")), "users")
  writeUsers([
    { name: "alice", hash: await hashPassword("old secret"), domains: ["customer.example"] },
    { name: "bob", hash: await hashPassword("bob secret"), domains: ["customer.example"] },
  ])
  const base = testIngressConfig(
    relayCert,
    [{ kind: "submission", host: "127.0.0.1", port: 0 }],
    fileUserDirectory(usersFile, () => undefined),
  )
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "auth-cache",
    policy: policyWith([], { localDomains: customerDomains }),
    config: { ...base, limits: { ...base.limits, authCache: { maxEntries: 100, ttlMs: 3_600_000 } } },
  })
}, 60_000)

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

const login = (user: string, pass: string) =>
  send({
    port: ingress.port("submission"),
    ca,
    auth: { user, pass },
    from: `${user}@customer.example`,
    to: ["someone@customer.example"],
  })

describe("cached logins under attack", () => {
  it("a changed password locks the old one out although it was cached", async () => {
    expect((await login("alice", "old secret")).ok).toBe(true)
    expect((await login("alice", "old secret")).ok).toBe(true) // from the cache
    expect((await login("alice", "a guess")).code).toBe(535)
    writeUsers([
      { name: "alice", hash: await hashPassword("new secret"), domains: ["customer.example"] },
      { name: "bob", hash: await hashPassword("bob secret"), domains: ["customer.example"] },
    ])
    // The directory re-reads the file at most once a second.
    await waitFor("new password accepted", async () =>
      (await login("alice", "new secret")).ok ? true : undefined,
    )
    const old = await login("alice", "old secret")
    expect(old.ok).toBe(false)
    expect(old.code).toBe(535)
  })

  it("a removed user cannot log in with cached credentials", async () => {
    expect((await login("bob", "bob secret")).ok).toBe(true)
    writeUsers([{ name: "alice", hash: await hashPassword("new secret"), domains: ["customer.example"] }])
    await waitFor("bob removed", async () =>
      (await login("bob", "bob secret")).code === 535 ? true : undefined,
    )
    expect((await login("bob", "bob secret")).code).toBe(535)
  })
})
