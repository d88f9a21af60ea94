/**
 * TLS session resumption on the listeners: a client that kept the session ticket of its last
 * connection resumes (no certificate exchange, no full handshake), on implicit TLS (465) and after
 * STARTTLS (587) — what makes a connection per message affordable for clients that keep tickets.
 * A ticket is only good on the listener that issued it (its ticket keys are random per process).
 */
import { createConnection, type Socket } from "node:net"
import { connect, type TLSSocket } from "node:tls"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { customerDomains, policyWith } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { type RunningIngress, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress
let ca = ""

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "resumption root" })
  ca = root.certPem
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "resume",
    policy: policyWith([], { localDomains: customerDomains }),
    config: testIngressConfig(
      relayCert,
      [
        { kind: "submission", host: "127.0.0.1", port: 0 },
        { kind: "submissions", host: "127.0.0.1", port: 0 },
      ],
      fileUserDirectory(undefined, () => undefined),
    ),
  })
}, 60_000)

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

/** Reads until a complete final SMTP reply line ("NNN " form) has arrived. */
const reply = (socket: Socket | TLSSocket) =>
  new Promise<string>((resolve, reject) => {
    let text = ""
    const onData = (chunk: Buffer) => {
      text += chunk.toString("latin1")
      if (/^\d{3} .*\r\n$/m.test(text.split("\r\n").slice(-2).join("\r\n"))) {
        socket.off("data", onData)
        resolve(text)
      }
    }
    socket.on("data", onData)
    socket.once("error", reject)
  })

/** One TLS session; resolves with whether it was resumed and the ticket it was given. */
const session = async (kind: "submission" | "submissions", ticket: Buffer | undefined) => {
  const port = ingress.port(kind)
  let plain: Socket | undefined
  if (kind === "submission") {
    plain = createConnection({ host: "127.0.0.1", port })
    await reply(plain)
    plain.write("EHLO client.test\r\n")
    await reply(plain)
    plain.write("STARTTLS\r\n")
    expect(await reply(plain)).toMatch(/^220/)
  }
  const tls = connect({
    ...(plain ? { socket: plain } : { host: "127.0.0.1", port }),
    servername: "relay.test",
    ca,
    minVersion: "TLSv1.2",
    ...(ticket ? { session: ticket } : {}),
  })
  let newTicket: Buffer | undefined
  tls.on("session", (s: Buffer) => {
    newTicket = s
  })
  await new Promise<void>((resolve, reject) => {
    tls.once("secureConnect", () => resolve())
    tls.once("error", reject)
  })
  if (kind === "submissions") await reply(tls)
  tls.write("EHLO client.test\r\n")
  await reply(tls)
  const resumed = tls.isSessionReused()
  const authorized = tls.authorized
  tls.end("QUIT\r\n")
  await new Promise((resolve) => tls.once("close", resolve))
  return { resumed, authorized, ticket: newTicket }
}

describe("TLS session resumption", () => {
  for (const kind of ["submissions", "submission"] as const)
    it(`resumes with the ticket of the last session (${kind})`, async () => {
      const first = await session(kind, undefined)
      expect(first.resumed).toBe(false)
      expect(first.authorized).toBe(true)
      expect(first.ticket).toBeDefined()
      const second = await session(kind, first.ticket)
      expect(second.resumed).toBe(true)
      expect(second.authorized).toBe(true)
    })

  it("a ticket only resumes on the listener that issued it: elsewhere a full, verified handshake", async () => {
    // Each listener's TLS context has its own ticket keys (random per process, never stored):
    // a ticket from 587 offered to 465 cannot be decrypted there.
    const first = await session("submission", undefined)
    const elsewhere = await session("submissions", first.ticket)
    expect(elsewhere.resumed).toBe(false)
    expect(elsewhere.authorized).toBe(true)
  })
})
