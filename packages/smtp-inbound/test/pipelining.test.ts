/**
 * Replies to a pipelined command group (RFC 2920, patches/smtp-server@3.21.6.patch): the 250s to
 * MAIL FROM and RCPT TO whose next command has already arrived wait for it, and the group's
 * replies go out in one write — one TLS record and one system call instead of one per reply.
 * Every reply still comes, in order; a refusal sends what waited; a command that is not
 * followed by another is answered at once (a client that waits for it is never left hanging).
 * Real listener on loopback, a raw socket as the client; the writes are counted as the TLS
 * records they became, by a proxy between the two (chunks read say nothing: writes coalesce).
 */
import { once } from "node:events"
import { type AddressInfo, createConnection, createServer, type Socket } from "node:net"
import { connect as tlsConnect } from "node:tls"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { customerDomains, policyWith } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { type RunningIngress, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress
let rootPem = ""

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "pipelining root" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  rootPem = root.certPem
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "pipelining",
    policy: policyWith([], { localDomains: customerDomains }),
    config: testIngressConfig(
      relayCert,
      [{ kind: "mx", host: "127.0.0.1", port: 0, greetingDelayMs: 0 }],
      fileUserDirectory(undefined, () => undefined),
    ),
  })
}, 60_000)

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

/**
 * A TCP proxy in front of `port` that keeps what the server sends, and counts the complete TLS
 * records in it since `mark()` (5-byte headers: type, version, length).
 */
const recordCounter = async (port: number) => {
  let fromServer = Buffer.alloc(0)
  let marked = 0
  const sockets: Array<Socket> = []
  const proxy = createServer((downstream) => {
    const upstream = createConnection({ host: "127.0.0.1", port })
    sockets.push(downstream, upstream)
    upstream.on("data", (data) => {
      fromServer = Buffer.concat([fromServer, data])
      downstream.write(data)
    })
    downstream.on("data", (data) => upstream.write(data))
    for (const [a, b] of [
      [upstream, downstream],
      [downstream, upstream],
    ] as const) {
      a.on("error", () => b.destroy())
      a.on("close", () => b.destroy())
    }
  })
  proxy.listen(0, "127.0.0.1")
  await once(proxy, "listening")
  return {
    port: (proxy.address() as AddressInfo).port,
    mark: () => {
      marked = fromServer.length
    },
    records: () => {
      let count = 0
      for (let at = marked; at + 5 <= fromServer.length; at += 5 + fromServer.readUInt16BE(at + 3)) count++
      return count
    },
    close: () => {
      for (const s of sockets) s.destroy()
      proxy.close()
    },
  }
}

/** Reads whole replies (a line with a space after the code ends one) from a socket. */
const replyReader = (socket: Socket | import("node:tls").TLSSocket) => {
  let pending = ""
  const replies: Array<string> = []
  let waiter: { count: number; resolve: () => void } | undefined
  const check = () => {
    if (waiter && replies.length >= waiter.count) waiter.resolve()
  }
  const onData = (data: Buffer) => {
    pending += data.toString("latin1")
    for (let end = pending.indexOf("\r\n"); end >= 0; end = pending.indexOf("\r\n")) {
      const line = pending.slice(0, end)
      pending = pending.slice(end + 2)
      if (/^\d{3} /.test(line)) replies.push(line)
    }
    check()
  }
  socket.on("data", onData)
  /** Writes `text` (in one write) and resolves with the next `count` replies. */
  const exchange = async (text: string, count: number) => {
    replies.length = 0
    const done = new Promise<void>((resolve) => {
      waiter = { count, resolve }
    })
    if (text !== "") socket.write(text)
    check()
    await done
    return [...replies]
  }
  return { exchange, detach: () => socket.off("data", onData) }
}

/** A plaintext session on `port` (the MX listener's by default), greeted and past EHLO. */
const plainClient = async (port = ingress.port("mx")) => {
  const raw = createConnection({ host: "127.0.0.1", port })
  const plain = replyReader(raw)
  await plain.exchange("", 1)
  await plain.exchange("EHLO relay.partner.example\r\n", 1)
  return { raw, plain }
}

/** TLS on `raw` once the plaintext reader let go, and EHLO inside it. */
const inTls = async (raw: Socket) => {
  const secure = tlsConnect({ socket: raw, ca: rootPem, servername: "relay.test" })
  await once(secure, "secureConnect")
  const inside = replyReader(secure)
  expect((await inside.exchange("EHLO relay.partner.example\r\n", 1))[0]).toMatch(/^250 /)
  return { secure, inside }
}

/** A session on the MX listener, through the record-counting proxy, inside STARTTLS. */
const client = async () => {
  const counter = await recordCounter(ingress.port("mx"))
  const { raw, plain } = await plainClient(counter.port)
  expect((await plain.exchange("STARTTLS\r\n", 1))[0]).toMatch(/^220 /)
  plain.detach()
  const { secure, inside } = await inTls(raw)
  return {
    ...inside,
    mark: counter.mark,
    records: counter.records,
    close: () => {
      secure.destroy()
      counter.close()
    },
  }
}

describe("replies to a pipelined command group", () => {
  it("MAIL, two RCPTs and DATA sent together: four replies, in order, in one TLS record", async () => {
    const c = await client()
    c.mark()
    const group = await c.exchange(
      "MAIL FROM:<clerk@partner.example>\r\nRCPT TO:<bob@customer.example>\r\nRCPT TO:<carol@customer.example>\r\nDATA\r\n",
      4,
    )
    expect(group.map((r) => r.slice(0, 9))).toEqual(["250 2.1.0", "250 2.1.5", "250 2.1.5", "354 End d"])
    expect(c.records()).toBe(1)
    const accepted = await c.exchange("Subject: pipelined\r\n\r\nhello\r\n.\r\n", 1)
    expect(accepted[0]).toMatch(/^250 2\.0\.0 Ok: queued as /)
    c.close()
  })

  it("a refused recipient in the group: every reply still comes, in order, the refusal in its place", async () => {
    const c = await client()
    c.mark()
    const group = await c.exchange(
      "MAIL FROM:<clerk@partner.example>\r\nRCPT TO:<bob@customer.example>\r\nRCPT TO:<eve@elsewhere.example>\r\nRCPT TO:<carol@customer.example>\r\nDATA\r\n",
      5,
    )
    expect(group.map((r) => r.slice(0, 3))).toEqual(["250", "250", "554", "250", "354"])
    expect(group[2]).toMatch(/^554 5\.7\.1 /)
    // The refusal sent the two 250s that waited for it; the next 250 waited for the 354.
    expect(c.records()).toBe(2)
    c.close()
  })

  it("a 250 that waits for a pipelined STARTTLS goes out with the 220, in plaintext, before the handshake", async () => {
    const { raw, plain } = await plainClient()
    const group = await plain.exchange("MAIL FROM:<clerk@partner.example>\r\nSTARTTLS\r\n", 2)
    expect(group.map((r) => r.slice(0, 3))).toEqual(["250", "220"])
    plain.detach()
    // Nothing of the plaintext session is written into the TLS stream: the handshake succeeds,
    // and the session inside starts afresh (RFC 3207: no MAIL FROM carried over).
    const { secure, inside } = await inTls(raw)
    expect((await inside.exchange("RCPT TO:<bob@customer.example>\r\n", 1))[0]).toMatch(/^503 /)
    secure.destroy()
  })

  it("a 250 that waits for a pipelined QUIT is sent before the session closes", async () => {
    const { raw, plain } = await plainClient()
    const closed = once(raw, "close")
    const group = await plain.exchange("MAIL FROM:<clerk@partner.example>\r\nQUIT\r\n", 2)
    expect(group.map((r) => r.slice(0, 3))).toEqual(["250", "221"])
    await closed
  })

  it("a command with nothing after it is answered at once", async () => {
    const c = await client()
    // Each exchange waits for its reply before the next command is written.
    expect((await c.exchange("MAIL FROM:<clerk@partner.example>\r\n", 1))[0]).toMatch(/^250 2\.1\.0/)
    expect((await c.exchange("RCPT TO:<bob@customer.example>\r\n", 1))[0]).toMatch(/^250 2\.1\.5/)
    expect((await c.exchange("DATA\r\n", 1))[0]).toMatch(/^354 /)
    c.close()
  })
})
