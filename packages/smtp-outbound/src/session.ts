/**
 * Opening one verified SMTP session to one address, per TLS mode: connect, greeting, EHLO,
 * STARTTLS, TLS handshake, peer verification — done here, so that enforce and mtls hand nothing
 * but a verified TLS socket to nodemailer, which then runs EHLO inside TLS and the mail
 * transactions. Nothing before TLS is authenticated: under enforce/mtls every pre-TLS refusal
 * defers. Delivery and probe both open sessions through `openSession`.
 *
 * The result is data: the session and its TLS evidence, or the tagged failure with whatever TLS
 * evidence the attempt gathered (a certificate that failed verification is evidence too).
 */
import type { Socket } from "node:net"
import { type PartnerTls, type TlsVersion, tlsVersionRank } from "@mailconnect/policy"
import type { TlsaRecord } from "@mailconnect/x509"
import { Effect } from "effect"
import { describeCertificate } from "./certificate"
import { type ClassifyContext, classifyReply } from "./classify"
import { verifyDanePeer } from "./dane-verify"
import {
  type AttemptFailure,
  type DeliveryError,
  type Phase,
  PreTlsRefused,
  StartTlsNotOffered,
} from "./errors"
import type { CertificateEvidence, SmtpReply, TlsEvidence, TranscriptLine } from "./evidence"
import type { Timeouts } from "./options"
import {
  type ClientCertificate,
  connectSocket,
  handOver,
  handshake,
  type OpenSession,
  peerOf,
  readReply,
  type SavedTlsSession,
} from "./socket-steps"
import { type AcceptedNames, verifyPeer } from "./verify"
import { ehloKeywords, ReplyReader } from "./wire"

export type { ClientCertificate, OpenSession, SavedTlsSession } from "./socket-steps"

export interface SessionRequest {
  /** `host:port` as routed, for the failure's `server`. */
  readonly server: string
  /** Host name routed to: SNI. */
  readonly host: string
  /** What the peer's certificate must be issued for (`acceptedNames`). */
  readonly accept: AcceptedNames
  readonly address: string
  readonly port: number
  readonly tls: PartnerTls
  /** A DANE hop: its validated TLSA records and DANE-TA reference names decide, not `tls.verify`. */
  readonly dane?: { readonly tlsa: ReadonlyArray<TlsaRecord>; readonly names: ReadonlyArray<string> }
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
  /** The attempt's transcript (commands and replies, never message content), appended to. */
  readonly transcript: Array<TranscriptLine>
}

export interface OpenedSession {
  readonly session: OpenSession
  readonly tls: TlsEvidence | undefined
}

export type SessionFailure = AttemptFailure

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

const context = (request: SessionRequest, phase: Phase): ClassifyContext => ({
  server: request.server,
  phase,
  minVersion: request.tls.minVersion,
  clientCertificateName: request.clientCertificate?.name ?? request.tls.clientCertificate,
})

/** Unauthenticated words: under enforce/mtls they defer, whatever code they carry. */
const preTlsRefused = (request: SessionRequest, phase: Phase, reply: SmtpReply) =>
  new PreTlsRefused({
    server: request.server,
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
  socket.end()
  setTimeout(() => socket.destroy(), 1_000).unref()
}

const withoutTls = (error: DeliveryError): SessionFailure => ({ error, tls: undefined })

type BeforeTls =
  | { readonly _tag: "Plaintext"; readonly session: OpenSession }
  | { readonly _tag: "StartTls"; readonly greeting: string }

/** Greeting, EHLO and STARTTLS: unauthenticated, so under enforce/mtls every refusal defers. */
const beforeTls = (request: SessionRequest, socket: Socket): Effect.Effect<BeforeTls, DeliveryError> =>
  Effect.gen(function* () {
    const { timeouts } = request
    const mustEncrypt = request.tls.mode !== "opportunistic"
    const reader = new ReplyReader(socket, request.transcript)
    const plaintext = (greeting: string) => {
      reader.detach()
      return handOver(socket, greeting, request, false, context(request, "ehlo")).pipe(
        Effect.map((session) => ({ _tag: "Plaintext" as const, session })),
      )
    }
    const refuse = (error: DeliveryError) =>
      Effect.sync(() => quitQuietly(reader, socket)).pipe(Effect.zipRight(Effect.fail(error)))

    const greeting = yield* readReply(reader, timeouts.greetingMs, context(request, "greeting"))
    if (greeting.reply.code !== 220) {
      return yield* refuse(
        mustEncrypt
          ? preTlsRefused(request, "greeting", greeting.reply)
          : classifyReply(greeting.reply, context(request, "greeting")),
      )
    }
    reader.send(`EHLO ${request.ehloName}`)
    const ehlo = yield* readReply(reader, timeouts.commandMs, context(request, "ehlo"))
    if (ehlo.reply.code !== 250) {
      if (mustEncrypt) return yield* refuse(preTlsRefused(request, "ehlo", ehlo.reply))
      if (ehlo.reply.code < 500) return yield* refuse(classifyReply(ehlo.reply, context(request, "ehlo")))
      // Opportunistic: a server without EHLO gets HELO (nodemailer falls back to it) in plaintext.
      return yield* plaintext(greeting.raw)
    }
    const capabilities = ehloKeywords(ehlo.reply)
    if (!capabilities.includes("STARTTLS") || request.plaintextOnly) {
      if (!mustEncrypt) return yield* plaintext(greeting.raw)
      return yield* refuse(
        new StartTlsNotOffered({
          server: request.server,
          phase: "ehlo",
          detail: `EHLO keywords: ${capabilities.join(" ")}`,
          attempts: [],
          form: "not-advertised",
          capabilities,
          reply: undefined,
        }),
      )
    }
    reader.send("STARTTLS")
    const started = yield* readReply(reader, timeouts.commandMs, context(request, "starttls"))
    if (started.reply.code !== 220) {
      if (!mustEncrypt) return yield* plaintext(greeting.raw)
      return yield* refuse(
        new StartTlsNotOffered({
          server: request.server,
          phase: "starttls",
          detail: `${started.reply.code} ${started.reply.text}`,
          attempts: [],
          form: "refused",
          capabilities,
          reply: started.reply,
        }),
      )
    }
    reader.detach()
    return { _tag: "StartTls" as const, greeting: greeting.raw }
  })

/** The TLS handshake, the verification per policy, then EHLO inside TLS (nodemailer). */
const overTls = (
  request: SessionRequest,
  socket: Socket,
  greeting: string,
): Effect.Effect<OpenedSession, SessionFailure> =>
  Effect.gen(function* () {
    const secure = yield* handshake(
      socket,
      { ...request, ciphers: ciphersFor(request.tls) },
      context(request, "tls"),
    ).pipe(Effect.mapError(withoutTls))
    const { chain, authorizationError } = peerOf(secure, request.tlsSession)
    const peer = { chain, authorizationError }
    const verdict = request.dane
      ? verifyDanePeer({ peer, ...request.dane, server: request.server, now: request.now })
      : verifyPeer({
          peer,
          tls: request.tls,
          accept: request.accept,
          server: request.server,
          now: request.now,
          previous: request.previousCertificate,
        })
    const tls: TlsEvidence = {
      protocol: secure.getProtocol(),
      cipher: secure.getCipher().name,
      resumed: secure.isSessionReused(),
      clientCertificate: request.clientCertificate?.name,
      peer: chain[0] ? describeCertificate(chain[0]) : undefined,
      chain: chain.slice(1).map(describeCertificate),
      verification: verdict.evidence,
    }
    // The handshake left `secure` with its parking error listener (socket-steps.ts).
    if (verdict.error && request.tls.mode !== "opportunistic") {
      return yield* Effect.fail({ error: verdict.error, tls })
    }
    const session = yield* handOver(secure, greeting, request, true, context(request, "ehlo")).pipe(
      Effect.mapError((error) => ({ error, tls })),
    )
    return { session, tls }
  })

/** Opens a session ready for MAIL FROM under the request's policy; on failure the socket is destroyed. */
export const openSession = (request: SessionRequest): Effect.Effect<OpenedSession, SessionFailure> =>
  Effect.gen(function* () {
    const socket = yield* connectSocket(
      request.address,
      request.port,
      request.timeouts.connectMs,
      context(request, "connect"),
    ).pipe(Effect.mapError(withoutTls))
    const opened = Effect.gen(function* () {
      const before = yield* beforeTls(request, socket).pipe(Effect.mapError(withoutTls))
      if (before._tag === "Plaintext") return { session: before.session, tls: undefined }
      return yield* overTls(request, socket, before.greeting)
    })
    return yield* opened.pipe(Effect.onError(() => Effect.sync(() => socket.destroy())))
  })
