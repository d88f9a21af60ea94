/**
 * Per-address connection limits (`client-limits.ts`), attacked by a real client hammering a real
 * listener: past the concurrent limit one address gets 421 4.7.0 before any greeting while
 * another address is still served, and a closed session frees its place; past the rate limit the
 * same; past the MAIL and RCPT rates 450 4.7.1 across the address's sessions. The windows
 * themselves under TestClock.
 */
import { createConnection, type Socket } from "node:net"
import { it as effectIt } from "@effect/vitest"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { customerDomains, policyWith } from "@mailconnect/test-support"
import { Effect, TestClock } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { type ClientLimitsConfig, makeClientLimits } from "../src/client-limits"
import { type RunningIngress, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let concurrent: RunningIngress
let rate: RunningIngress
let commands: RunningIngress

const start = async (prefix: string, perAddress: ClientLimitsConfig) => {
  const root = await createRootCa({ commonName: `client limits ${prefix}` })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  const base = testIngressConfig(
    relayCert,
    [{ kind: "mx", host: "127.0.0.1", port: 0, greetingDelayMs: 0 }],
    fileUserDirectory(undefined, () => undefined),
  )
  return startTestIngress({
    redisUrl: redis.url,
    prefix,
    policy: policyWith([], { localDomains: customerDomains }),
    config: { ...base, limits: { ...base.limits, perAddress } },
  })
}

beforeAll(async () => {
  redis = await startRedis()
  concurrent = await start("limits-concurrent", { maxConcurrent: 3, maxPerMinute: 0 })
  rate = await start("limits-rate", { maxConcurrent: 0, maxPerMinute: 4 })
  commands = await start("limits-commands", {
    maxConcurrent: 0,
    maxPerMinute: 0,
    messagesPerMinute: 2,
    recipientsPerMinute: 3,
  })
}, 60_000)

afterAll(async () => {
  await concurrent?.close()
  await rate?.close()
  await commands?.close()
  await redis?.stop()
})

/** Opens a connection from `localAddress` and resolves with the first reply line and the socket. */
const open = (port: number, localAddress: string) =>
  new Promise<{ first: string; socket: Socket }>((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port, localAddress })
    let said = ""
    socket.on("data", (chunk) => {
      said += chunk.toString("latin1")
      if (said.includes("\r\n")) resolve({ first: said.split("\r\n")[0]!, socket })
    })
    socket.on("error", reject)
  })

const quit = (socket: Socket) =>
  new Promise<void>((resolve) => {
    socket.once("close", () => resolve())
    socket.end("QUIT\r\n")
  })

describe("per-address connection limits", () => {
  it("refuses one address past its concurrent sessions with 421 4.7.0; another is served; a close frees a place", async () => {
    const port = concurrent.port("mx")
    const held = await Promise.all([1, 2, 3].map(() => open(port, "127.0.0.5")))
    expect(held.map((h) => h.first.slice(0, 3))).toEqual(["220", "220", "220"])
    const over = await open(port, "127.0.0.5")
    expect(over.first).toMatch(/^421 4\.7\.0 Too many connections from your address/)
    await new Promise((resolve) => over.socket.once("close", resolve))
    const other = await open(port, "127.0.0.6")
    expect(other.first).toMatch(/^220 /)
    await quit(held[0]!.socket)
    // The close is counted when smtp-server reports it; the next connection gets the place.
    let again = await open(port, "127.0.0.5")
    for (let i = 0; i < 20 && !again.first.startsWith("220"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      again = await open(port, "127.0.0.5")
    }
    expect(again.first).toMatch(/^220 /)
    await Promise.all([...held.slice(1), other, again].map((h) => quit(h.socket)))
  })

  it("refuses one address past its new sessions a minute; another is served", async () => {
    const port = rate.port("mx")
    for (let i = 0; i < 4; i++) {
      const ok = await open(port, "127.0.0.7")
      expect(ok.first).toMatch(/^220 /)
      await quit(ok.socket)
    }
    const over = await open(port, "127.0.0.7")
    expect(over.first).toMatch(/^421 4\.7\.0 /)
    const other = await open(port, "127.0.0.8")
    expect(other.first).toMatch(/^220 /)
    await quit(other.socket)
  })

  it("refuses one address's MAIL and RCPT past their rates with 450 4.7.1, across its sessions; another is served", async () => {
    const port = commands.port("mx")
    const session = async (address: string) => {
      const { first, socket } = await open(port, address)
      expect(first).toMatch(/^220 /)
      const replies: Array<string> = []
      let buffer = ""
      const waiting: Array<(line: string) => void> = []
      socket.on("data", (chunk) => {
        buffer += chunk.toString("latin1")
        for (let end = buffer.indexOf("\r\n"); end >= 0; end = buffer.indexOf("\r\n")) {
          const line = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (!/^\d{3}-/.test(line)) (waiting.shift() ?? ((l: string) => replies.push(l)))(line)
        }
      })
      const command = (line: string) =>
        new Promise<string>((resolve) => {
          waiting.push(resolve)
          socket.write(`${line}\r\n`)
        })
      await command("EHLO client.test")
      return { command, end: () => quit(socket) }
    }
    const first = await session("127.0.0.9")
    expect(await first.command("MAIL FROM:<sender@example.org>")).toMatch(/^250 /)
    for (const n of [1, 2, 3])
      expect(await first.command(`RCPT TO:<r${n}@customer.example>`)).toMatch(/^250 /)
    expect(await first.command("RCPT TO:<r4@customer.example>")).toMatch(
      /^450 4\.7\.1 Too many recipients from your address/,
    )
    expect(await first.command("RSET")).toMatch(/^250 /)
    expect(await first.command("MAIL FROM:<sender@example.org>")).toMatch(/^250 /)
    expect(await first.command("RSET")).toMatch(/^250 /)
    expect(await first.command("MAIL FROM:<sender@example.org>")).toMatch(
      /^450 4\.7\.1 Too many messages from your address/,
    )
    // The session stays usable (QUIT answered), and a new session of the address is still over.
    await first.end()
    const again = await session("127.0.0.9")
    expect(await again.command("MAIL FROM:<sender@example.org>")).toMatch(/^450 4\.7\.1 /)
    await again.end()
    const other = await session("127.0.0.10")
    expect(await other.command("MAIL FROM:<sender@example.org>")).toMatch(/^250 /)
    expect(await other.command("RCPT TO:<r1@customer.example>")).toMatch(/^250 /)
    await other.end()
  })

  effectIt.effect("MAIL and RCPT rate windows slide, per address, and are off at 0", () =>
    Effect.gen(function* () {
      const limits = makeClientLimits({ maxConcurrent: 0, maxPerMinute: 0, messagesPerMinute: 1 })
      expect(limits.limits("message")).toBe(true)
      expect(limits.limits("recipient")).toBe(false)
      expect(yield* limits.count("message", "10.0.0.2")).toBeUndefined()
      expect((yield* limits.count("message", "::ffff:10.0.0.2"))?.code).toBe(450)
      expect(yield* limits.count("message", "10.0.0.3")).toBeUndefined()
      expect(yield* limits.count("recipient", "10.0.0.2")).toBeUndefined()
      yield* TestClock.adjust("61 seconds")
      expect(yield* limits.count("message", "10.0.0.2")).toBeUndefined()
    }),
  )

  effectIt.effect("the rate window slides: after 60 s the address is served again", () =>
    Effect.gen(function* () {
      const limits = makeClientLimits({ maxConcurrent: 0, maxPerMinute: 2 })
      expect(yield* limits.admit("s1", "::ffff:10.0.0.1")).toBeUndefined()
      yield* TestClock.adjust("30 seconds")
      expect(yield* limits.admit("s2", "10.0.0.1")).toBeUndefined()
      expect((yield* limits.admit("s3", "10.0.0.1"))?.code).toBe(421)
      yield* TestClock.adjust("31 seconds")
      expect(yield* limits.admit("s4", "10.0.0.1")).toBeUndefined()
      expect((yield* limits.admit("s5", "10.0.0.1"))?.code).toBe(421)
    }),
  )
})
