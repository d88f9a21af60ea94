/**
 * Redis memory limits with real relay processes: a relay refuses to start on a Redis whose
 * eviction policy could drop queued mail (clear error, non-zero exit); on a `noeviction` Redis at
 * `maxmemory` the ingress answers 451 4.3.0 — never 250 for mail it could not store — and takes
 * mail again once memory is freed, delivering it. What was queued before Redis filled up is not
 * lost and is delivered, once, as soon as memory frees — not while Redis is full: BullMQ's job
 * scripts (moveToActive) are refused with OOM like any write, so no job can start (the figure
 * `MAXMEMORY-DELIVERY` says how many got through while full). That is why a relay stops taking
 * mail at its memory high-water mark (RELAY_REDIS_MEMORY_HIGH_WATER, 90 % of maxmemory): a flood
 * gets 452 4.3.1 before Redis refuses a single write, and delivery drains the queue in the room
 * left. The relay of the first tests runs with the mark off, to reach maxmemory itself.
 */
import { RedisClient } from "@mailconnect/redis-client"
import { startRedis } from "@mailconnect/test-redis"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { labPartner, policyOf, startRelay, startStack, submit, waitFor } from "@mailconnect/test-support"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { submissionTransport } from "../support/load"
import { relayPids } from "../support/processes"

let stack: Stack
let relay: SmtpRelay

beforeAll(async () => {
  stack = await startStack(["good"])
  const good = stack.partners.scenario("good")
  await stack.publish(
    policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
    1,
  )
  relay = await stack.startRelay("relay-memory", { RELAY_REDIS_MEMORY_HIGH_WATER: "0" })
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

  it("at maxmemory (noeviction): mail queued before is kept and delivered once when memory frees, without a restart", async () => {
    // The delivery worker held (SIGSTOP) while a second, ingress-only relay queues three messages.
    const pids = relayPids(relay.id, stack.lab.prefix)
    expect(pids.length).toBeGreaterThan(0)
    for (const pid of pids) process.kill(pid, "SIGSTOP")
    const ingress = await stack
      .startRelay("relay-memory-ingress", {
        RELAY_ROLES: "ingress",
        RELAY_REDIS_MEMORY_HIGH_WATER: "0",
      })
      .catch((e) => {
        for (const pid of pids) process.kill(pid, "SIGCONT")
        throw e
      })
    const good = stack.partners.scenario("good")
    const subjects = ["queued 0", "queued 1", "queued 2"]
    const copies = (s: string) =>
      good.recorder.messages().filter((m) => m.body?.toString().includes(`Subject: ${s}\r\n`)).length
    let full = true
    try {
      await waitFor("ingress ready", async () => (await ingress.ready())?.status === 200)
      for (const subject of subjects)
        expect((await submit(ingress, stack.relayCa, ["bob@bank.example"], subject)).response).toMatch(
          /^250 /,
        )
      await setMaxMemory("1")
      for (const pid of pids) process.kill(pid, "SIGCONT")
      // The worker polls and fails for a while with Redis full; new mail is refused meanwhile.
      await new Promise((r) => setTimeout(r, 5_000))
      expect((await submit(ingress, stack.relayCa, ["bob@bank.example"], "still full")).response).toMatch(
        /^451 4\.3\.0 /,
      )
      const whileFull = subjects.filter((s) => copies(s) > 0).length
      console.log(`MAXMEMORY-DELIVERY delivered while full: ${whileFull} of ${subjects.length}`)
      await setMaxMemory("0")
      full = false
      await waitFor(
        "queued mail delivered once memory is freed",
        () => subjects.every((s) => copies(s) > 0),
        {
          timeoutMs: 60_000,
          output: relay.output,
        },
      )
      await new Promise((r) => setTimeout(r, 2_000))
      expect(subjects.map(copies)).toEqual([1, 1, 1])
      expect(copies("still full")).toBe(0)
    } finally {
      for (const pid of pids) process.kill(pid, "SIGCONT")
      if (full) await setMaxMemory("0")
      await ingress.stop("SIGKILL")
    }
  })

  it("a flood stops at the high-water mark with 452 4.3.1 before Redis refuses a write; what it queued is delivered, Redis still near full", async () => {
    // Delivery held (SIGSTOP) so that the flood fills Redis; a relay with the mark on takes it.
    const pids = relayPids(relay.id, stack.lab.prefix)
    for (const pid of pids) process.kill(pid, "SIGSTOP")
    const ingress = await stack.startRelay("relay-watermark", { RELAY_ROLES: "ingress" }).catch((e) => {
      for (const pid of pids) process.kill(pid, "SIGCONT")
      throw e
    })
    const good = stack.partners.scenario("good")
    const info = async (section: string) =>
      String(await stack.lab.withRedis(Effect.flatMap(RedisClient, (redis) => redis.call("INFO", section))))
    const oomErrors = async () =>
      Number(/^errorstat_OOM:count=(\d+)/m.exec(await info("errorstats"))?.[1] ?? 0)
    const used = async () => Number(/^used_memory:(\d+)/m.exec(await info("memory"))?.[1])
    const transport = submissionTransport(ingress, stack.relayCa)
    const accepted: Array<string> = []
    let limited = false
    let refusal = ""
    try {
      await waitFor("ingress ready", async () => (await ingress.ready())?.status === 200)
      const oomBefore = await oomErrors()
      // Room for ~60 messages of 50 KB above what Redis holds now, the mark at 90 % of it.
      await setMaxMemory(String((await used()) + 3_500_000))
      limited = true
      await new Promise((r) => setTimeout(r, 1_500))
      const body = "y".repeat(76).concat("\r\n").repeat(640)
      for (let i = 0; i < 400 && refusal === ""; i++) {
        const subject = `flood ${i}`
        const reply = await transport
          .sendMail({
            envelope: { from: "alice@customer.example", to: ["bob@bank.example"] },
            raw: `From: alice@customer.example\r\nTo: bob@bank.example\r\nSubject: ${subject}\r\n\r\n${body}`,
          })
          .then(
            (sent) => sent.response,
            (e: { response?: string; message: string }) => e.response ?? e.message,
          )
        if (reply.startsWith("250 ")) accepted.push(subject)
        else refusal = reply
      }
      expect(refusal).toMatch(/^452 4\.3\.1 /)
      expect(accepted.length).toBeGreaterThan(10)
      // Redis never refused a write: the mark came first.
      expect(await oomErrors()).toBe(oomBefore)
      // Delivery resumes with maxmemory still where the flood left it, and drains what was taken.
      for (const pid of pids) process.kill(pid, "SIGCONT")
      const copies = (s: string) =>
        good.recorder.messages().filter((m) => m.body?.toString().includes(`Subject: ${s}\r\n`)).length
      await waitFor("the flood's accepted mail delivered", () => accepted.every((s) => copies(s) > 0), {
        timeoutMs: 90_000,
        output: relay.output,
      })
      expect(await oomErrors()).toBe(oomBefore)
      console.log(
        `MAXMEMORY-WATERMARK accepted ${accepted.length} messages of 50 KB before "${refusal}", all delivered, 0 OOM refusals`,
      )
    } finally {
      for (const pid of pids) process.kill(pid, "SIGCONT")
      transport.close()
      if (limited) await setMaxMemory("0")
      await ingress.stop("SIGKILL")
    }
  })
})
