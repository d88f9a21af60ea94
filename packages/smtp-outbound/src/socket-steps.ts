/**
 * The socket-level steps of opening a session, each an Effect that fails only with a classified
 * DeliveryError (an unexpected exception is a defect, never a mislabelled failure) and that
 * destroys its socket when interrupted: TCP connect, reading a reply, the TLS handshake, and the
 * hand-over of a prepared socket to nodemailer's SMTPConnection.
 */
import type { X509Certificate } from "node:crypto"
import { isIP, connect as netConnect, type Socket } from "node:net"
import { type TLSSocket, connect as tlsConnect } from "node:tls"
import { format } from "node:util"
import type { PartnerTls } from "@mailconnect/policy"
import { Effect } from "effect"
import SMTPConnection from "nodemailer/lib/smtp-connection"
import { peerChain } from "./certificate"
import {
  type ClassifyContext,
  classifyNodemailerError,
  classifySocketError,
  connectionLost,
} from "./classify"
import { ClientCertRejected, type DeliveryError, TlsHandshakeFailed } from "./errors"
import type { TranscriptLine } from "./evidence"
import type { Timeouts } from "./options"
import { ignoreError, type ReplyReader, WireError } from "./wire"

export interface ClientCertificate {
  readonly name: string
  readonly cert: string
  readonly key: string
}

/**
 * A session ticket and what the full handshake showed: a resumed session presents no certificate,
 * so the one it was established with is verified again, against the policy of the moment.
 */
export interface SavedTlsSession {
  readonly ticket: Buffer
  readonly chain: ReadonlyArray<X509Certificate>
  readonly authorizationError: string | undefined
}

export interface OpenSession {
  readonly connection: SMTPConnection
  readonly secure: boolean
  /** Where nodemailer's transcript lines go; switched per message on a reused connection. */
  transcript: Array<TranscriptLine>
  /** The last error nodemailer reported outside a command (e.g. the server closed an idle session). */
  lastError: Error | undefined
  /** The connection ended (either side); a cached session is not reused then. */
  closed: boolean
}

const timedOut = (ms: number) =>
  Object.assign(new Error(`no connection within ${ms} ms`), { code: "ETIMEDOUT" }) as NodeJS.ErrnoException

/** QUIT, then close for sure a moment later. */
export const quitSession = (session: OpenSession): void => {
  try {
    session.connection.quit()
  } catch {
    session.connection.close()
  }
  setTimeout(() => session.connection.close(), 1_000).unref()
}

export const connectSocket = (address: string, port: number, timeoutMs: number, ctx: ClassifyContext) =>
  Effect.async<Socket, DeliveryError>((resume) => {
    const socket = netConnect({ host: address, port })
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(classifySocketError(timedOut(timeoutMs), ctx)))
    }, timeoutMs)
    socket.once("connect", () => {
      clearTimeout(timer)
      socket.removeAllListeners("error")
      resume(Effect.succeed(socket))
    })
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resume(Effect.fail(classifySocketError(error, ctx)))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** The next reply; a socket failure, close or silence is classified for the phase at hand. */
export const readReply = (reader: ReplyReader, timeoutMs: number, ctx: ClassifyContext) =>
  Effect.tryPromise({ try: () => reader.read(timeoutMs), catch: (error) => error }).pipe(
    Effect.catchAll((error): Effect.Effect<never, DeliveryError> => {
      if (!(error instanceof WireError)) return Effect.die(error)
      const failure = error.failure
      if (failure.kind === "error") return Effect.fail(classifySocketError(failure.error, ctx))
      return Effect.fail(connectionLost(ctx, failure.kind, failure.kind === "timeout"))
    }),
  )

export interface HandshakeRequest {
  readonly host: string
  readonly tls: PartnerTls
  /** `ciphersFor(tls)`: the list with the security level the policy implies. */
  readonly ciphers: string | undefined
  readonly clientCertificate: ClientCertificate | undefined
  readonly tlsSession: SavedTlsSession | undefined
  readonly onTlsSession: (saved: SavedTlsSession) => void
  readonly timeouts: Timeouts
}

/** The peer's chain and OpenSSL's verdict, from the session the resumed one continues if need be. */
export const peerOf = (secure: TLSSocket, saved: SavedTlsSession | undefined) => {
  const chain = peerChain(secure)
  if (chain.length === 0 && secure.isSessionReused() && saved) {
    return { chain: saved.chain, authorizationError: saved.authorizationError }
  }
  return {
    chain,
    authorizationError: secure.authorizationError ? String(secure.authorizationError) : undefined,
  }
}

export const handshake = (socket: Socket, request: HandshakeRequest, ctx: ClassifyContext) =>
  Effect.async<TLSSocket, DeliveryError>((resume) => {
    // Ended by the peer after its 220 to STARTTLS: no handshake can come (nor any event).
    if (socket.destroyed) return resume(Effect.fail(connectionLost(ctx, "closed", false)))
    const { tls, clientCertificate } = request
    const secure = tlsConnect({
      socket,
      ...(isIP(request.host) ? {} : { servername: request.host }),
      minVersion: tls.minVersion,
      ...(request.ciphers ? { ciphers: request.ciphers } : {}),
      ...(tls.verify.ca ? { ca: tls.verify.ca.pem } : {}),
      ...(clientCertificate ? { cert: clientCertificate.cert, key: clientCertificate.key } : {}),
      ...(request.tlsSession ? { session: request.tlsSession.ticket } : {}),
      // Verification is ours (verify.ts), against the policy and the attempt's clock; OpenSSL's
      // chain verdict is read from authorizationError. Nothing is sent before it is decided.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    })
    const timer = setTimeout(() => {
      secure.destroy()
      resume(Effect.fail(connectionLost(ctx, "timeout", true)))
    }, request.timeouts.tlsMs)
    secure.on("session", (ticket: Buffer) => {
      const { chain, authorizationError } = peerOf(secure, request.tlsSession)
      if (chain.length > 0) request.onTlsSession({ ticket, chain, authorizationError })
    })
    secure.once("secureConnect", () => {
      clearTimeout(timer)
      secure.removeAllListeners("error")
      // Until nodemailer takes the socket over, a reset by the peer must not be an unhandled
      // 'error' (it would end the process); the hand-over sees the socket destroyed instead.
      secure.on("error", ignoreError)
      resume(Effect.succeed(secure))
    })
    secure.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resume(Effect.fail(classifySocketError(error, ctx)))
    })
    socket.resume()
    return Effect.sync(() => {
      clearTimeout(timer)
      secure.destroy()
    })
  })

export interface HandOverRequest {
  readonly host: string
  readonly port: number
  readonly ehloName: string
  readonly timeouts: Timeouts
  readonly transcript: Array<TranscriptLine>
  readonly clientCertificate: ClientCertificate | undefined
}

/**
 * The server closed the TLS session before answering anything inside it. A Node or OpenSSL server
 * that dislikes the client certificate it asked for often just does that; with our certificate
 * presented it is classified as refused, otherwise as a failed TLS session.
 */
const closedAfterHandshake = (
  error: Error,
  request: HandOverRequest,
  secure: boolean,
  ctx: ClassifyContext,
): DeliveryError | undefined => {
  const failure = error as Error & { response?: string; originalCode?: string; code?: string }
  const closed =
    !failure.response && !failure.originalCode?.startsWith("ERR_SSL_") && failure.code !== "ETIMEDOUT"
  if (!secure || !closed) return undefined
  const common = { server: ctx.server, phase: "ehlo" as const, detail: error.message, attempts: [] }
  if (request.clientCertificate) {
    return new ClientCertRejected({
      ...common,
      form: "closed",
      certificateName: request.clientCertificate.name,
      reply: undefined,
    })
  }
  return new TlsHandshakeFailed({ ...common, tlsCode: "CLOSED_AFTER_HANDSHAKE" })
}

/** Hands a socket whose greeting we already read to nodemailer, which re-reads it and sends EHLO. */
export const handOver = (
  socket: Socket,
  greeting: string,
  request: HandOverRequest,
  secure: boolean,
  ctx: ClassifyContext,
) =>
  Effect.async<OpenSession, DeliveryError>((resume) => {
    // nodemailer listens for 'close' only once it has started (a tick after connect()): a session
    // the peer ended before that would wait out the greeting timeout for a greeting that cannot come.
    // Classified as nodemailer's own report of the close would be.
    const lost = () => {
      const error = Object.assign(new Error("Connection closed unexpectedly"), {
        code: "ECONNECTION",
        command: "CONN",
      })
      return (
        closedAfterHandshake(error, request, secure, ctx) ??
        classifyNodemailerError(error, { ...ctx, phase: "ehlo" })
      )
    }
    if (socket.destroyed) return resume(Effect.fail(lost()))
    const session = {
      transcript: request.transcript,
      lastError: undefined as Error | undefined,
      closed: false,
    }
    // The greeting nodemailer reads is our replay of the one already in the transcript.
    let replayedLines = greeting.split(/\r?\n/).filter(Boolean).length
    const record = (entry: { tnx?: string }, message: string, ...args: Array<unknown>) => {
      const direction = entry.tnx === "client" ? "C" : entry.tnx === "server" ? "S" : undefined
      if (!direction) return
      for (const line of format(message, ...args).split(/\r?\n/)) {
        if (!line) continue
        if (direction === "S" && replayedLines > 0) {
          replayedLines -= 1
          continue
        }
        session.transcript.push({ direction, line })
      }
    }
    const ignore = () => {}
    const connection = new SMTPConnection({
      connection: socket,
      secure,
      secured: secure,
      ignoreTLS: !secure,
      host: request.host,
      port: request.port,
      name: request.ehloName,
      greetingTimeout: request.timeouts.commandMs,
      socketTimeout: request.timeouts.commandMs,
      connectionTimeout: request.timeouts.commandMs,
      transactionLog: true,
      logger: {
        debug: record,
        info: ignore,
        warn: ignore,
        error: ignore,
        trace: ignore,
        fatal: ignore,
      } as never,
    })
    // The server greeted once, before STARTTLS; nodemailer waits for a greeting before its EHLO.
    socket.unshift(Buffer.from(greeting, "latin1"))
    let settled = false
    const closedEarly = () => {
      if (settled) return
      settled = true
      connection.close()
      resume(Effect.fail(lost()))
    }
    socket.once("close", closedEarly)
    connection.once("end", () => {
      session.closed = true
    })
    // Kept for the whole session: an unhandled 'error' event would end the process.
    connection.on("error", (error: Error) => {
      session.lastError = error
      if (settled) return
      settled = true
      resume(
        Effect.fail(
          closedAfterHandshake(error, request, secure, ctx) ??
            classifyNodemailerError(error, { ...ctx, phase: "ehlo" }),
        ),
      )
    })
    // nodemailer hands a silent close before the greeting to this callback as an error, not 'error'.
    connection.connect((error?: Error) => {
      socket.removeListener("close", closedEarly)
      if (settled) return
      settled = true
      if (error) {
        session.lastError = error
        connection.close()
        return resume(Effect.fail(lost()))
      }
      resume(Effect.succeed(Object.assign(session, { connection, secure })))
    })
    return Effect.sync(() => {
      settled = true
      socket.removeListener("close", closedEarly)
      connection.close()
    })
  })
