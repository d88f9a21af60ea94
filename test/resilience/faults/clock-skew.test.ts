/**
 * Clock skew between relays, with real skewed clocks: the ingress relay keeps the machine's time,
 * delivery relays run under libfaketime (Debian `faketime`, LD_PRELOAD; monotonic time left
 * alone, so timers behave) 4 minutes ahead or behind. A message queued by the ingress and failed
 * temporarily (the partner answers 451 to every RCPT) by a skewed relay must be scheduled for
 * the timeline's next point — queuedAt + 5 min, from the ingress's queuedAt and the policy —
 * whatever the attempting relay's clock says. The job data in Redis is the evidence: queuedAt,
 * the attempt's own time (the skewed clock, proving the skew is real), nextAttemptAt, and the
 * delayed set's score.
 *
 * Known limits (docs/security.md): queuedAt itself is the ingress relay's clock, and the warning
 * and expiry decisions use the attempting relay's clock, so they move by its skew.
 */
import { existsSync } from "node:fs"
import { redisCommand } from "@mailconnect/test-redis"
import {
  labPartner,
  policyOf,
  retry,
  type SmtpRelay,
  type Stack,
  startStack,
  submit,
  waitFor,
} from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const SKEW_MS = 4 * 60_000
const LIBFAKETIME = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/faketime/libfaketime.so.1",
].find((path) => existsSync(path))

let stack: Stack
let ingress: SmtpRelay
const relays: Array<SmtpRelay> = []

beforeAll(async () => {
  if (!LIBFAKETIME)
    throw new Error("libfaketime not found: install Debian's faketime (node tools/bootstrap.mjs)")
  stack = await startStack(["rcpt-4xx"])
  const greylist = labPartner(stack.partners, "bank", "rcpt-4xx")
  const good = stack.partners.scenario("good")
  // The default timeline: points at queuedAt, +5 min, +15 min, then hourly; warning 4 h, NDR 10 d.
  expect(greylist.retry).toEqual(retry)
  await stack.publish(policyOf([greylist], { host: good.host, port: good.port }), 1)
  ingress = await stack.startRelay("skew-ingress", { RELAY_ROLES: "ingress" })
  relays.push(ingress)
  await waitFor("ingress ready", async () => (await ingress.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  for (const relay of relays) await relay.stop("SIGKILL")
  await stack?.stop()
})

/** A delivery relay whose wall clock is `offsetMs` off (libfaketime). */
const skewedDelivery = async (id: string, offsetMs: number) => {
  const relay = await stack.startRelay(id, {
    RELAY_ROLES: "delivery",
    LD_PRELOAD: LIBFAKETIME!,
    FAKETIME: `${offsetMs >= 0 ? "+" : "-"}${Math.abs(offsetMs) / 1000}s`,
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
    FAKETIME_DONT_RESET: "1",
  })
  relays.push(relay)
  await waitFor(`${id} ready`, async () => (await relay.ready())?.status === 200, { output: relay.output })
  return relay
}

interface JobData {
  readonly messageId: string
  readonly queuedAt: number
  readonly attemptCount: number
  readonly nextAttemptAt?: number
  readonly attempts: ReadonlyArray<{ readonly at: number }>
}

const port = () => stack.lab.redis.port
/** BullMQ's job hashes of the delivery queue (its lists, sets and streams have other types). */
const jobKeys = async () => {
  const keys = (await redisCommand(port(), "KEYS", `{${stack.lab.prefix}}:delivery:*`)) as Array<string>
  const types = await Promise.all(keys.map((k) => redisCommand(port(), "TYPE", k)))
  return keys.filter((k, i) => types[i] === "hash" && !k.endsWith(":meta"))
}

/** The job of `messageId` once it has had one attempt, and its score in the delayed set. */
const attempted = async (messageId: string) =>
  waitFor(
    `first attempt of ${messageId}`,
    async () => {
      for (const key of await jobKeys()) {
        const raw = await redisCommand(port(), "HGET", key, "data").catch(() => null)
        if (typeof raw !== "string") continue
        const data = JSON.parse(raw) as JobData
        if (data.messageId !== messageId || data.attemptCount < 1) continue
        const id = key.slice(key.lastIndexOf(":delivery:") + ":delivery:".length)
        const score = await redisCommand(port(), "ZSCORE", `{${stack.lab.prefix}}:delivery:delayed`, id)
        if (score === null) continue
        return { data, delayedUntil: Math.floor(Number(score) / 0x1000) }
      }
      return undefined
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  )

const queueOne = async (subject: string) => {
  const before = Date.now()
  const result = await submit(ingress, stack.relayCa, ["bob@bank.example"], subject)
  expect(result.response).toMatch(/^250 /)
  return { messageId: result.queueId!, before, after: Date.now() }
}

describe("clock skew", { timeout: 180_000 }, () => {
  for (const [label, offset] of [
    ["4 min ahead", SKEW_MS],
    ["4 min behind", -SKEW_MS],
  ] as const) {
    it(`a delivery relay ${label}: the retry is at the timeline's next point from queuedAt`, async () => {
      const relay = await skewedDelivery(`skew-${offset > 0 ? "ahead" : "behind"}`, offset)
      try {
        const sent = await queueOne(`skew ${label}`)
        const { data, delayedUntil } = await attempted(sent.messageId)
        // queuedAt is the ingress's (true) time; the attempt ran on the skewed clock.
        expect(data.queuedAt).toBeGreaterThanOrEqual(sent.before - 1_000)
        expect(data.queuedAt).toBeLessThanOrEqual(sent.after + 1_000)
        expect(data.attempts[0]!.at - data.queuedAt).toBeGreaterThan(offset - 30_000)
        expect(data.attempts[0]!.at - data.queuedAt).toBeLessThan(offset + 30_000)
        // One timeline: queuedAt + 5 min, in the job and in BullMQ's delayed set.
        expect(data.nextAttemptAt).toBe(data.queuedAt + retry.schedule[0]!)
        expect(delayedUntil).toBe(data.queuedAt + retry.schedule[0]!)
      } finally {
        await relay.stop("SIGKILL")
      }
    })
  }

  it("two delivery relays 8 min apart at once: every message's retry is queuedAt + 5 min", async () => {
    const ahead = await skewedDelivery("skew-both-ahead", SKEW_MS)
    const behind = await skewedDelivery("skew-both-behind", -SKEW_MS)
    try {
      const sent = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => queueOne(`skew both ${i}`)))
      const jobs = await Promise.all(sent.map((s) => attempted(s.messageId)))
      for (const { data, delayedUntil } of jobs) {
        expect(Math.abs(Math.abs(data.attempts[0]!.at - data.queuedAt) - SKEW_MS)).toBeLessThan(30_000)
        expect(data.nextAttemptAt).toBe(data.queuedAt + retry.schedule[0]!)
        expect(delayedUntil).toBe(data.queuedAt + retry.schedule[0]!)
      }
      // And nobody ran them again early: the relay ahead would promote a retry its colleague
      // behind had put on a point already passed (queuedAt) at once.
      await new Promise((r) => setTimeout(r, 3_000))
      const later = await Promise.all(sent.map((s) => attempted(s.messageId)))
      expect(later.map((j) => j.data.attemptCount)).toEqual(sent.map(() => 1))
    } finally {
      await ahead.stop("SIGKILL")
      await behind.stop("SIGKILL")
    }
  })
})
