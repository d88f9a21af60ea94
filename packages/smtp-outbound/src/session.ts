/**
 * Opening one SMTP session to one address, per TLS mode: connect, greeting, EHLO, STARTTLS, TLS
 * handshake, peer verification — done here, so that enforce and mtls hand nothing but a verified
 * TLS socket to nodemailer, which then runs EHLO inside TLS and the mail transactions.
 */
import type { X509Certificate } from "node:crypto"
import { isIP, connect as netConnect, type Socket } from "node:net"
import { type TLSSocket, connect as tlsConnect } from "node:tls"
import { format } from "node:util"
import { type PartnerTls, type TlsVersion, tlsVersionRank } from "@mailconnect/policy"
import SMTPConnection from "nodemailer/lib/smtp-connection"
import { describeCertificate, peerChain } from "./certificate"
import { classifyNodemailerError, classifyReply, classifySocketError, connectionLost } from "./classify"
import {
  ClientCertRejected,
  type DeliveryError,
  type Phase,
  PreTlsRefused,
  StartTlsNotOffered,
  TlsHandshakeFailed,
} from "./errors"
import type { AttemptEvidence, CertificateEvidence, SmtpReply, TranscriptLine } from "./evidence"
import type { Timeouts } from "./options"
import { type AcceptedNames, verifyPeer } from "./verify"
import { ehloKeywords, ReplyReader, WireError } from "./wire"

export interface ClientCertificate {
  readonly name: string
  readonly cert: string
  readonly key: string
}

export interface SessionRequest {
  /** Host name routed to: SNI. */
  readonly host: string
  /** What the peer's certificate must be issued for (`acceptedNames`). */
  readonly accept: AcceptedNames
  readonly address: string
  readonly port: number
  readonly tls: PartnerTls
  readonly ehloName: string
  readonly timeouts: Timeouts
  readonly clientCertificate: ClientCertificate | undefined
  /** A TLS session from an earlier connection to the same server (same client certificate). */
  readonly tlsSession: SavedTlsSession | undefined
  readonly onTlsSession: (saved: SavedTlsSession) => void
  readonly now: Date
  readonly previousCertificate: CertificateEvidence | undefined
  /** Opportunistic retry after a failed handshake: do not try STARTTLS again. */
  readonly plaintextOnly: boolean
  readonly attempt: AttemptEvidence
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
}

const isDeliveryError = (e: unknown): e is DeliveryError =>
  typeof e === "object" && e !== null && "code" in e && "retry" in e && "attempts" in e

const connectSocket = (request: SessionRequest): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = netConnect({ host: request.address, port: request.port })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(
        Object.assign(new Error(`no connection within ${request.timeouts.connectMs} ms`), {
          code: "ETIMEDOUT",
        }),
      )
    }, request.timeouts.connectMs)
    socket.once("connect", () => {
      clearTimeout(timer)
      socket.removeAllListeners("error")
      resolve(socket)
    })
    socket.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })

const MODERN: TlsVersion = "TLSv1.2"

/**
 * The cipher list for a policy. Below TLS 1.2 (only with the agreement's `legacyTls`
 * acknowledgement, checked by the compiler) OpenSSL's security level is lowered for this
 * connection alone: TLS 1.0/1.1 sign with SHA-1/MD5, which level 1 and up refuse.
 */
export const ciphersFor = (tls: PartnerTls): string | undefined => {
  if (tlsVersionRank(tls.minVersion) >= tlsVersionRank(MODERN)) return tls.ciphers
  const base = tls.ciphers ?? "DEFAULT"
  return base.includes("@SECLEVEL") ? base : `${base}:@SECLEVEL=0`
}

const handshake = (socket: Socket, request: SessionRequest): Promise<TLSSocket> =>
  new Promise((resolve, reject) => {
    const { tls, clientCertificate } = request
    const ciphers = ciphersFor(tls)
    const secure = tlsConnect({
      socket,
      ...(isIP(request.host) ? {} : { servername: request.host }),
      minVersion: tls.minVersion,
      ...(ciphers ? { ciphers } : {}),
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
      reject(new WireError({ kind: "timeout" }))
    }, request.timeouts.tlsMs)
    secure.on("session", (ticket: Buffer) => {
      const { chain, authorizationError } = peerOf(secure, request)
      if (chain.length > 0) request.onTlsSession({ ticket, chain, authorizationError })
    })
    secure.once("secureConnect", () => {
      clearTimeout(timer)
      secure.removeAllListeners("error")
      resolve(secure)
    })
    secure.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.resume()
  })

/** Hands a socket whose greeting we already read to nodemailer, which re-reads it and sends EHLO. */
const handOver = (socket: Socket, greeting: string, request: SessionRequest, secure: boolean) =>
  new Promise<OpenSession>((resolve, reject) => {
    const session = {
      transcript: request.attempt.transcript,
      lastError: undefined as Error | undefined,
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
    // Kept for the whole session: an unhandled 'error' event would end the process.
    connection.on("error", (error: Error) => {
      session.lastError = error
      if (settled) return
      settled = true
      reject(
        closedAfterHandshake(error, request, secure) ??
          classifyNodemailerError(error, context(request, "ehlo")),
      )
    })
    connection.connect(() => {
      if (settled) return
      settled = true
      resolve(Object.assign(session, { connection, secure }))
    })
  })

/** The peer's chain and OpenSSL's verdict, from the session the resumed one continues if need be. */
const peerOf = (secure: TLSSocket, request: SessionRequest) => {
  const chain = peerChain(secure)
  if (chain.length === 0 && secure.isSessionReused() && request.tlsSession) {
    return { chain: request.tlsSession.chain, authorizationError: request.tlsSession.authorizationError }
  }
  return {
    chain,
    authorizationError: secure.authorizationError ? String(secure.authorizationError) : undefined,
  }
}

const context = (request: SessionRequest, phase: Phase) => ({
  server: request.attempt.server,
  phase,
  minVersion: request.tls.minVersion,
  clientCertificateName: request.clientCertificate?.name ?? request.tls.clientCertificate,
})

/**
 * The server closed the TLS session before answering anything inside it. A Node or OpenSSL server
 * that dislikes the client certificate it asked for often just does that; with our certificate
 * presented it is classified as refused, otherwise as a failed TLS session.
 */
const closedAfterHandshake = (
  error: Error,
  request: SessionRequest,
  secure: boolean,
): DeliveryError | undefined => {
  const failure = error as Error & { response?: string; originalCode?: string; code?: string }
  const closed =
    !failure.response && !failure.originalCode?.startsWith("ERR_SSL_") && failure.code !== "ETIMEDOUT"
  if (!secure || !closed) return undefined
  const common = {
    server: request.attempt.server,
    phase: "ehlo" as const,
    detail: error.message,
    attempts: [],
  }
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

/** Unauthenticated words: under enforce/mtls they defer, whatever code they carry. */
const preTlsRefused = (request: SessionRequest, phase: Phase, reply: SmtpReply) =>
  new PreTlsRefused({
    server: request.attempt.server,
    phase,
    detail: `${reply.code} ${reply.text}`,
    attempts: [],
    reply,
  })

const quitQuietly = (reader: ReplyReader, socket: Socket) => {
  try {
    reader.send("QUIT")
  } catch {}
  reader.detach()
  socket.on("error", () => {})
  socket.end()
  setTimeout(() => socket.destroy(), 1_000).unref()
}

/**
 * Opens a session ready for MAIL FROM. Rejects only with a DeliveryError; fills `request.attempt`
 * (address, TLS evidence, transcript) as it goes, also on failure.
 */
export const openSession = async (request: SessionRequest): Promise<OpenSession> => {
  const { attempt, tls, timeouts } = request
  const mustEncrypt = tls.mode !== "opportunistic"
  let phase: Phase = "connect"
  let socket: Socket | undefined
  try {
    attempt.address = request.address
    socket = await connectSocket(request)
    const reader = new ReplyReader(socket, attempt.transcript)
    phase = "greeting"
    const greeting = await reader.read(timeouts.greetingMs)
    if (greeting.reply.code !== 220) {
      if (mustEncrypt) throw preTlsRefused(request, phase, greeting.reply)
      throw classifyReply(greeting.reply, context(request, phase))
    }
    phase = "ehlo"
    reader.send(`EHLO ${request.ehloName}`)
    const ehlo = await reader.read(timeouts.commandMs)
    if (ehlo.reply.code !== 250) {
      if (mustEncrypt) {
        quitQuietly(reader, socket)
        throw preTlsRefused(request, phase, ehlo.reply)
      }
      // Opportunistic: a server without EHLO gets HELO (nodemailer falls back to it) in plaintext.
      if (ehlo.reply.code < 500) throw classifyReply(ehlo.reply, context(request, phase))
      reader.detach()
      return await handOver(socket, greeting.raw, request, false)
    }
    const capabilities = ehloKeywords(ehlo.reply)
    const offered = capabilities.includes("STARTTLS")
    if (!offered || request.plaintextOnly) {
      if (mustEncrypt) {
        quitQuietly(reader, socket)
        throw new StartTlsNotOffered({
          server: attempt.server,
          phase,
          detail: `EHLO keywords: ${capabilities.join(" ")}`,
          attempts: [],
          form: "not-advertised",
          capabilities,
          reply: undefined,
        })
      }
      reader.detach()
      return await handOver(socket, greeting.raw, request, false)
    }
    phase = "starttls"
    reader.send("STARTTLS")
    const started = await reader.read(timeouts.commandMs)
    if (started.reply.code !== 220) {
      if (mustEncrypt) {
        quitQuietly(reader, socket)
        throw new StartTlsNotOffered({
          server: attempt.server,
          phase,
          detail: `${started.reply.code} ${started.reply.text}`,
          attempts: [],
          form: "refused",
          capabilities,
          reply: started.reply,
        })
      }
      reader.detach()
      return await handOver(socket, greeting.raw, request, false)
    }
    reader.detach()
    phase = "tls"
    const secure = await handshake(socket, request)
    socket = secure
    const { chain, authorizationError } = peerOf(secure, request)
    const verdict = verifyPeer({
      peer: { chain, authorizationError },
      tls,
      accept: request.accept,
      server: attempt.server,
      now: request.now,
      previous: request.previousCertificate,
    })
    attempt.tls = {
      protocol: secure.getProtocol(),
      cipher: secure.getCipher().name,
      resumed: secure.isSessionReused(),
      clientCertificate: request.clientCertificate?.name,
      peer: chain[0] ? describeCertificate(chain[0]) : undefined,
      chain: chain.slice(1).map(describeCertificate),
      verification: verdict.evidence,
    }
    if (verdict.error && mustEncrypt) {
      secure.on("error", () => {})
      secure.destroy()
      throw verdict.error
    }
    phase = "ehlo"
    return await handOver(secure, greeting.raw, request, true)
  } catch (error) {
    socket?.destroy()
    if (isDeliveryError(error)) throw error
    if (error instanceof WireError) {
      const failure = error.failure
      if (failure.kind === "error") throw classifySocketError(failure.error, context(request, phase))
      throw connectionLost(context(request, phase), failure.kind, failure.kind === "timeout")
    }
    throw classifySocketError(error as NodeJS.ErrnoException, context(request, phase))
  }
}
