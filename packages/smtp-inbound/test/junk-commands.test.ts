/**
 * The junk-command limit (patches/smtp-server@3.21.6.patch, Postfix's smtpd_junk_command_limit):
 * every NOOP, RSET, VRFY or HELP renews the idle timeout, so a client sending them for ever holds
 * a session — one of the listener's `maxClients` — at no cost. Past the limit between two
 * messages the session gets 421 4.7.0 and is closed; a message accepted ends the run, so a relay
 * that RSETs between the messages of a long-lived connection is never cut off.
 * Real listeners on loopback, a raw socket as the client.
 */
import { createConnection, type Socket } from "node:net"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { customerDomains, policyWith } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { type RunningIngress, startTestIngress, testIngressConfig } from "./harness"

const LIMIT = 5
let redis: RedisServer
let ingress: RunningIngress

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "junk commands root" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  const config = testIngressConfig(
    relayCert,
    [{ kind: "mx", host: "127.0.0.1", port: 0, greetingDelayMs: 0 }],
    fileUserDirectory(undefined, () => undefined),
  )
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "junk",
    policy: policyWith([], { localDomains: customerDomains }),
    config: { ...config, limits: { ...config.limits, junkCommandLimit: LIMIT } },
  })
}, 60_000)

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

/** A client that sends one command at a time and reads its whole reply; `closed` once the server hangs up. */
const connect = (port: number) =>
  new Promise<{ say: (line: string) => Promise<string>; closed: Promise<void>; socket: Socket }>(
    (resolve, reject) => {
      let buffer = ""
      let waiting: ((reply: string) => void) | undefined
      const socket = createConnection({ host: "127.0.0.1", port })
      const closed = new Promise<void>((done) => socket.on("close", () => done()))
      const take = () => {
        const end = /^\d{3} .*\r\n/m.exec(buffer)
        if (!end || !waiting) return
        const reply = buffer.slice(0, end.index + end[0].length)
        buffer = buffer.slice(reply.length)
        const deliver = waiting
        waiting = undefined
        deliver(reply.trimEnd())
      }
      const next = () =>
        new Promise<string>((r) => {
          waiting = r
          take()
        })
      socket.on("data", (chunk) => {
        buffer += chunk.toString("latin1")
        take()
      })
      socket.on("error", reject)
      closed.then(() => waiting?.(""))
      next().then((greeting) => {
        expect(greeting).toMatch(/^220 /)
        resolve({
          say: (line) => {
            socket.write(`${line}\r\n`)
            return next()
          },
          closed,
          socket,
        })
      })
    },
  )

describe("junk-command limit", () => {
  it("closes a session that only keeps itself alive: 421 4.7.0 after the limit, nothing more read", async () => {
    const client = await connect(ingress.port("mx"))
    expect(await client.say("EHLO idler.example")).toMatch(/^250 /m)
    const junk = ["NOOP", "RSET", "VRFY postmaster", "HELP", "NOOP"]
    for (const command of junk) expect(await client.say(command)).toMatch(/^2\d\d /)
    expect(await client.say("NOOP")).toMatch(/^421 4\.7\.0 .*too many commands without mail/)
    await client.closed
    expect(client.socket.destroyed).toBe(true)
  })

  it("lets a connection that moves mail RSET between its messages for ever: each accepted message ends the run", async () => {
    const client = await connect(ingress.port("mx"))
    expect(await client.say("EHLO relay.partner.example")).toMatch(/^250 /m)
    const queued: Array<string> = []
    for (let message = 1; message <= 3; message++) {
      for (let i = 0; i < LIMIT - 1; i++) expect(await client.say("NOOP")).toMatch(/^250 /)
      expect(await client.say("RSET")).toMatch(/^250 /)
      expect(await client.say("MAIL FROM:<clerk@partner.example>")).toMatch(/^250 /)
      expect(await client.say("RCPT TO:<bob@customer.example>")).toMatch(/^250 /)
      expect(await client.say("DATA")).toMatch(/^354 /)
      const accepted = await client.say(`Subject: ${message}\r\n\r\nbody ${message}\r\n.`)
      expect(accepted).toMatch(/^250 /)
      queued.push(accepted)
    }
    expect(queued).toHaveLength(3)
    expect(await client.say("QUIT")).toMatch(/^221 /)
    await client.closed
  })
})
