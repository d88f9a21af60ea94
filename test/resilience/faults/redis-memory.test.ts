/**
 * Redis memory limits with real relay processes: a relay refuses to start on a Redis whose
 * eviction policy could drop queued mail (clear error, non-zero exit); on a `noeviction` Redis at
 * `maxmemory` the ingress answers 451 4.3.0 — never 250 for mail it could not store — and takes
 * mail again once memory is freed, delivering it.
 */
import { RedisClient } from "@mailconnect/redis-client"
import { startRedis } from "@mailconnect/test-redis"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { labPartner, policyOf, startRelay, startStack, submit, waitFor } from "@mailconnect/test-support"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let stack: Stack
let relay: SmtpRelay

beforeAll(async () => {
  stack = await startStack(["good"])
  const good = stack.partners.scenario("good")
  await stack.publish(
    policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
    1,
  )
  relay = await stack.startRelay("relay-memory")
  await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  await relay?.stop("SIGKILL")
  await stack?.stop()
})

const setMaxMemory = (value: string) =>
  stack.lab.withRedis(Effect.flatMap(RedisClient, (redis) => redis.call("CONFIG", "SET", "maxmemory", value)))

describe("Redis memory", () => {
  it("a relay refuses to start on a Redis that may evict keys, saying why", async () => {
    const evicting = await startRedis({ args: ["--maxmemory-policy", "allkeys-lru"] })
    try {
      // startRelay waits for /healthz and throws with the relay's output when it exits instead.
      const started = await startRelay(stack.lab, "relay-evicting", { redisUrl: evicting.url }).then(
        async (relay) => {
          await relay.stop("SIGKILL")
          return "started"
        },
        (error: Error) => error.message,
      )
      expect(started).toMatch(/relay relay-evicting exited with [1-9]/)
      expect(started).toContain("maxmemory-policy is allkeys-lru")
    } finally {
      await evicting.stop()
    }
  })

  it("at maxmemory (noeviction): 451 4.3.0 and nothing queued; after memory is freed, accepted and delivered", async () => {
    await setMaxMemory("1")
    let refused: Awaited<ReturnType<typeof submit>>
    try {
      refused = await submit(relay, stack.relayCa, ["bob@bank.example"], "while full")
    } finally {
      await setMaxMemory("0")
    }
    expect(refused.ok).toBe(false)
    expect(refused.response).toMatch(/^451 4\.3\.0 /)
    const accepted = await submit(relay, stack.relayCa, ["bob@bank.example"], "after freeing")
    expect(accepted.response).toMatch(/^250 /)
    const good = stack.partners.scenario("good")
    await waitFor("delivery", () =>
      good.recorder.messages().find((m) => m.body?.toString().includes("Subject: after freeing")),
    )
    expect(
      good.recorder.messages().filter((m) => m.body?.toString().includes("Subject: while full")),
    ).toEqual([])
  })
})
