/**
 * Brute force against AUTH, with real clients hammering a real submission listener and the
 * throttle counting in a real Redis: each failure answered later than the one before, the
 * address locked after the limit (454 4.7.0 — even for the right password), other addresses
 * unaffected; a user guessed at from many addresses locked for all of them; a success clearing
 * the counters. Small limits and delays so the test is quick.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { customerDomains, policyWith } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AuthThrottleConfig, delayFor, fileUserDirectory, formatUsersFile, hashPassword } from "../src"
import { type RunningIngress, send, startTestIngress, testIngressConfig } from "./harness"

const THROTTLE: AuthThrottleConfig = {
  windowMs: 60_000,
  lockMs: 60_000,
  maxPerAddress: 3,
  maxPerUser: 6,
  baseDelayMs: 20,
  maxDelayMs: 80,
}

let redis: RedisServer
let ingress: RunningIngress
let ca = ""

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "auth throttle root" })
  ca = root.certPem
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  const usersFile = join(mkdtempSync(join(tmpdir(), "mc-users-")), "users")
  writeFileSync(
    usersFile,
    formatUsersFile([
      { name: "alice", hash: await hashPassword("correct horse"), domains: ["customer.example"] },
      { name: "bob", hash: await hashPassword("battery staple"), domains: ["customer.example"] },
      { name: "carol", hash: await hashPassword("tr0ub4dor"), domains: ["customer.example"] },
    ]),
  )
  const policy = policyWith([], { localDomains: customerDomains })
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "auth-throttle",
    policy,
    config: testIngressConfig(
      relayCert,
      [{ kind: "submission", host: "127.0.0.1", port: 0 }],
      fileUserDirectory(usersFile, () => undefined),
    ),
    authThrottle: THROTTLE,
  })
}, 60_000)

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

const login = (user: string, pass: string, localAddress: string) =>
  send({
    port: ingress.port("submission"),
    ca,
    auth: { user, pass },
    from: `${user}@customer.example`,
    to: ["someone@customer.example"],
    localAddress,
  })

describe("failed AUTH, throttled fleet-wide", () => {
  it("waits longer after each failure, up to the maximum", () => {
    expect([1, 2, 3, 4, 5, 40].map((n) => delayFor(n, THROTTLE))).toEqual([20, 40, 80, 80, 80, 80])
  })

  it("locks an address after the limit: 454 even for the right password; other addresses go on", async () => {
    for (let i = 0; i < THROTTLE.maxPerAddress; i++)
      expect((await login("alice", "wrong", "127.0.0.2")).response).toMatch(/^535 5\.7\.8 /)
    const locked = await login("alice", "correct horse", "127.0.0.2")
    expect(locked).toMatchObject({ ok: false, code: 454 })
    expect(locked.response).toMatch(/^454 4\.7\.0 Too many failed authentication attempts/)
    // Another user from the locked address: the address is locked, not only the user.
    expect((await login("bob", "battery staple", "127.0.0.2")).code).toBe(454)
    // The same user from elsewhere is fine (alice's failures are under the per-user limit).
    expect(await login("alice", "correct horse", "127.0.0.3")).toMatchObject({ ok: true, code: 250 })
    expect(ingress.refused.filter((r) => r === "auth-throttled").length).toBeGreaterThanOrEqual(2)
  })

  it("locks a user guessed at from many addresses, for every address", async () => {
    for (let i = 0; i < THROTTLE.maxPerUser; i++)
      expect((await login("bob", "guess", `127.0.1.${i + 1}`)).code).toBe(535)
    expect((await login("bob", "battery staple", "127.0.2.1")).code).toBe(454)
  })

  it("clears an address's count with a successful login", async () => {
    for (let i = 0; i < THROTTLE.maxPerAddress - 1; i++)
      expect((await login("carol", "typo", "127.0.3.1")).code).toBe(535)
    expect((await login("carol", "tr0ub4dor", "127.0.3.1")).ok).toBe(true)
    // Two more typos would have locked it without the success in between.
    for (let i = 0; i < THROTTLE.maxPerAddress - 1; i++)
      expect((await login("carol", "typo", "127.0.3.1")).code).toBe(535)
    expect((await login("carol", "tr0ub4dor", "127.0.3.1")).ok).toBe(true)
  })
})
