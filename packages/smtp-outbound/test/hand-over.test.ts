/**
 * The moment between our TLS handshake and nodemailer taking the socket over. A peer that ends
 * the session there (reset or close) must neither end the relay with an unhandled 'error' nor
 * leave the attempt waiting out the greeting timeout for a greeting that cannot come: the attempt
 * fails at once as a session closed after the handshake. Real TLS over loopback, certificates from
 * the test PKI; the timeouts are 5 minutes, so a hang fails the test by its own timeout. And the
 * same for a cached session the peer ends while our RSET waits for its reply (the chaos soak's
 * attempt that held its job for minutes).
 */
import { once } from "node:events"
import { type AddressInfo, createServer, type Server, type Socket } from "node:net"
import { TLSSocket } from "node:tls"
import type { PartnerTls } from "@mailconnect/policy"
import { type CertificateAuthority, createRootCa, type IssuedCertificate } from "@mailconnect/test-pki"
import { Effect, Exit } from "effect"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import type { ClassifyContext } from "../src/classify"
import type { DeliveryError } from "../src/errors"
import { connectSocket, handOver, handshake } from "../src/socket-steps"
import { resetSession, sendMessage } from "../src/transaction"
import { ReplyReader } from "../src/wire"

const HOST = "mx.partner.test"
const MINUTES_5 = 300_000
const timeouts = {
  connectMs: MINUTES_5,
  greetingMs: MINUTES_5,
  commandMs: MINUTES_5,
  tlsMs: MINUTES_5,
  dataMs: MINUTES_5,
}
const ctx: ClassifyContext = {
  server: HOST,
  phase: "tls",
  minVersion: "TLSv1.2",
  clientCertificateName: undefined,
}

let root: CertificateAuthority
let server: IssuedCertificate
let client: IssuedCertificate
const opened: Array<Server> = []
const sockets: Array<Socket> = []

beforeAll(async () => {
  root = await createRootCa()
  server = await root.issueServer({ names: [HOST] })
  client = await root.issueClient({ names: ["relay.mailconnect.test"], commonName: "relay" })
})
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await Promise.all(opened.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
})

/** A loopback TCP peer doing `onConnection` to each session; its port. */
const peer = async (onConnection: (raw: Socket) => void) => {
  const listener = createServer((raw) => {
    sockets.push(raw)
    onConnection(raw)
  })
  opened.push(listener)
  listener.listen(0, "127.0.0.1")
  await once(listener, "listening")
  return (listener.address() as AddressInfo).port
}

/** A TLS peer (no SMTP before it) that does `after` to each session once its handshake is done. */
const tlsPeer = (after: (raw: Socket) => void) =>
  peer((raw) => {
    const secure = new TLSSocket(raw, { isServer: true, cert: server.chainPem, key: server.keyPem })
    secure.on("error", () => {})
    secure.once("secure", () => after(raw))
  })

/** Our socket connected to a plain peer doing `onConnection`. */
const plainSession = async (onConnection: (raw: Socket) => void) => {
  const port = await peer(onConnection)
  const socket = await Effect.runPromise(
    connectSocket("127.0.0.1", port, MINUTES_5, { ...ctx, phase: "connect" }),
  )
  sockets.push(socket)
  return socket
}

/** Resolves once the socket has closed; unlike events.once, an 'error' before it is no rejection. */
const closed = (socket: Socket) =>
  new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once("close", () => resolve())))

const tls: PartnerTls = {
  mode: "enforce",
  minVersion: "TLSv1.2",
  verify: {
    trust: "pkix",
    names: [],
    pins: [],
    ca: { file: "certs/root.pem", pem: "", sha256: "", notAfter: "" },
  },
}

/** What our handshake is asked: the test root as the partner's CA. */
const handshakeRequest = () => ({
  host: HOST,
  tls: { ...tls, verify: { ...tls.verify, ca: { ...tls.verify.ca!, pem: root.certPem } } },
  ciphers: undefined,
  clientCertificate: undefined,
  tlsSession: undefined,
  onTlsSession: () => {},
  timeouts,
})

const secureSession = (port: number) =>
  Effect.gen(function* () {
    const socket = yield* connectSocket("127.0.0.1", port, MINUTES_5, { ...ctx, phase: "connect" })
    sockets.push(socket)
    return yield* handshake(socket, handshakeRequest(), ctx)
  })

const handOverRequest = (clientCertificate?: IssuedCertificate) => ({
  host: HOST,
  port: 25,
  ehloName: "relay.mailconnect.test",
  timeouts,
  transcript: [],
  clientCertificate: clientCertificate
    ? { name: "relay", cert: clientCertificate.chainPem, key: clientCertificate.keyPem }
    : undefined,
})

const failureOf = (exit: Exit.Exit<unknown, DeliveryError>): DeliveryError => {
  if (Exit.isSuccess(exit)) throw new Error("the hand-over succeeded on a closed session")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (!failure) throw new Error(`not a classified failure: ${String(exit.cause)}`)
  return failure
}

describe("a session the peer ends between the TLS handshake and the hand-over", () => {
  it("a reset right after the handshake is no unhandled error, and the hand-over fails at once", async () => {
    const port = await tlsPeer((raw) => raw.resetAndDestroy())
    const secure = await Effect.runPromise(secureSession(port))
    // The reset arrives while nobody but our parking listener is attached.
    await closed(secure)
    const exit = await Effect.runPromiseExit(handOver(secure, "220 mx\r\n", handOverRequest(), true, ctx))
    expect(failureOf(exit)).toMatchObject({
      _tag: "TlsHandshakeFailed",
      code: "TLS_HANDSHAKE_FAILED",
      tlsCode: "CLOSED_AFTER_HANDSHAKE",
      phase: "ehlo",
    })
  })

  it("with our client certificate presented, the same close reads as the certificate refused", async () => {
    const port = await tlsPeer((raw) => raw.end())
    const secure = await Effect.runPromise(secureSession(port))
    await closed(secure)
    const exit = await Effect.runPromiseExit(
      handOver(secure, "220 mx\r\n", handOverRequest(client), true, ctx),
    )
    expect(failureOf(exit)).toMatchObject({
      _tag: "ClientCertRejected",
      form: "closed",
      certificateName: "relay",
    })
  })

  it("a close after the hand-over began, before nodemailer listens for one, ends the attempt at once", async () => {
    const port = await tlsPeer(() => {})
    const secure = await Effect.runPromise(secureSession(port))
    const attempt = Effect.runPromiseExit(handOver(secure, "220 mx\r\n", handOverRequest(), true, ctx))
    // In the same tick: the close is emitted before nodemailer's deferred start attaches its listeners.
    secure.destroy()
    expect(failureOf(await attempt)).toMatchObject({ tlsCode: "CLOSED_AFTER_HANDSHAKE" })
  })

  it("a silent close while nodemailer waits for the greeting is a failure, never an open session", async () => {
    let ended = () => {}
    const port = await tlsPeer((raw) => {
      ended = () => raw.end()
    })
    const secure = await Effect.runPromise(secureSession(port))
    // No greeting replayed: nodemailer has started and waits for one when the peer ends the session.
    const attempt = Effect.runPromiseExit(handOver(secure, "", handOverRequest(), true, ctx))
    await new Promise((resolve) => setTimeout(resolve, 100))
    ended()
    expect(failureOf(await attempt)).toMatchObject({ tlsCode: "CLOSED_AFTER_HANDSHAKE" })
  })

  it("a plaintext session reset once its reader let go: no unhandled error, the hand-over fails at once", async () => {
    const socket = await plainSession((raw) =>
      raw.write("220 mx.partner.test ESMTP\r\n", () => setTimeout(() => raw.resetAndDestroy(), 50)),
    )
    const reader = new ReplyReader(socket, [])
    const greeting = await reader.read(MINUTES_5)
    reader.detach()
    // The reset arrives while nothing but the reader's parking listener is attached.
    await closed(socket)
    const exit = await Effect.runPromiseExit(handOver(socket, greeting.raw, handOverRequest(), false, ctx))
    expect(failureOf(exit)).toMatchObject({ _tag: "ConnectRefused" })
  })

  it("a TLS handshake on a session the peer ended after its 220 fails at once", async () => {
    const socket = await plainSession((raw) => raw.end())
    socket.resume()
    await closed(socket)
    const exit = await Effect.runPromiseExit(handshake(socket, handshakeRequest(), ctx))
    expect(failureOf(exit)).toMatchObject({ _tag: "TlsHandshakeFailed", tlsCode: "CONNECTION_CLOSED" })
  })

  it("a plaintext session already closed fails as the connection lost, not a timeout", async () => {
    const socket = await plainSession((raw) => raw.end())
    socket.resume()
    await closed(socket)
    const exit = await Effect.runPromiseExit(handOver(socket, "220 mx\r\n", handOverRequest(), false, ctx))
    expect(failureOf(exit)).toMatchObject({ _tag: "ConnectRefused", code: "CONNECT_REFUSED" })
  })
})

/** A plain SMTP peer that greets, answers EHLO, and does `onLine` to every other command line. */
const scriptedPeer = (onLine: (line: string, raw: Socket) => void) =>
  plainSession((raw) => {
    raw.write("220 mx.partner.test ESMTP\r\n")
    let pending = ""
    raw.on("data", (data) => {
      pending += data.toString("latin1")
      for (let end = pending.indexOf("\r\n"); end >= 0; end = pending.indexOf("\r\n")) {
        const line = pending.slice(0, end)
        pending = pending.slice(end + 2)
        if (/^EHLO /i.test(line)) raw.write("250 mx.partner.test\r\n")
        else onLine(line, raw)
      }
    })
  })

/** …that does `onRset` to the session on RSET. */
const rsetPeer = (onRset: (raw: Socket) => void) =>
  scriptedPeer((line, raw) => {
    if (/^RSET/i.test(line)) onRset(raw)
  })

/** An open (plaintext) nodemailer session on `socket`, as a cached session is. */
const openedOn = async (socket: Socket) => {
  const reader = new ReplyReader(socket, [])
  const greeting = await reader.read(MINUTES_5)
  reader.detach()
  return Effect.runPromise(handOver(socket, greeting.raw, handOverRequest(), false, ctx))
}

describe("a cached session the peer ends while our RSET waits for its reply", () => {
  it("a reset: the session is not reusable, at once (nodemailer never answers RSET's callback then)", async () => {
    const session = await openedOn(await rsetPeer((raw) => raw.resetAndDestroy()))
    expect(await Effect.runPromise(resetSession(session))).toBe(false)
  })

  it("a close: the same", async () => {
    const session = await openedOn(await rsetPeer((raw) => raw.end()))
    expect(await Effect.runPromise(resetSession(session))).toBe(false)
  })

  it("a 250: reusable", async () => {
    const session = await openedOn(await rsetPeer((raw) => raw.write("250 2.0.0 Ok\r\n")))
    expect(await Effect.runPromise(resetSession(session))).toBe(true)
    session.connection.close()
  })
})

/** …without PIPELINING, that accepts MAIL FROM. */
const mailPeer = () =>
  scriptedPeer((line, raw) => {
    if (/^MAIL FROM/i.test(line)) raw.write("250 2.1.0 Ok\r\n")
  })

describe("a transaction whose socket is torn down as a reply arrives", () => {
  it("fails at once as the connection lost (nodemailer's close() forgets the send in flight)", async () => {
    const socket = await mailPeer()
    const session = await openedOn(socket)
    // The reset is seen with the MAIL FROM reply (as when both come in one read): the socket is
    // destroyed before nodemailer handles the 250, so its RCPT TO finds the socket gone and
    // nodemailer closes the connection without ever calling the send's callback.
    socket.prependOnceListener("data", () => socket.destroy())
    const exit = await Effect.runPromiseExit(
      sendMessage(
        session,
        {
          sender: "alice@customer.example",
          recipients: ["bob@partner.test"],
          body: Buffer.from("Subject: x\r\n\r\nx\r\n"),
        },
        { ...ctx, phase: "mail" },
      ),
    )
    const failure = failureOf(exit)
    expect(failure._tag).toBe("SmtpTransient")
    expect(failure).toMatchObject({ detail: expect.stringMatching(/closed/i) })
  })
})
