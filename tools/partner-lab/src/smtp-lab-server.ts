/**
 * One real smtp-server on loopback, configured to behave like one partner scenario, recording
 * what it receives. Recipient conventions on every lab server: local part `defer…` gets 451,
 * `reject…` gets 550; the `rcptReply` option overrides that for every recipient.
 */
import { once } from "node:events"
import type { AddressInfo } from "node:net"
import type { TLSSocket } from "node:tls"
import { SMTPServer, type SMTPServerOptions } from "smtp-server"
import { type ReceivedTransaction, Recorder } from "./recording"

export interface RcptReply {
  readonly code: number
  readonly message: string
}

export interface ClientCertificateCheck {
  /** CA(s) our relay's client certificate must chain to. */
  readonly ca: string
  /**
   * `alert`: the TLS handshake itself refuses a missing or untrusted certificate.
   * `reply`: the handshake completes, then the server answers 421 4.7.1 (as Postfix does).
   */
  readonly refuseWith: "alert" | "reply"
}

export interface LabServerConfig {
  readonly name: string
  readonly cert: string
  readonly key: string
  readonly host?: string
  /** Default: a free port. A given one lets a "partner" come back on its address with another certificate. */
  readonly port?: number
  readonly minVersion?: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3"
  readonly maxVersion?: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3"
  readonly ciphers?: string
  readonly hideStartTls?: boolean
  /** Advertise REQUIRETLS (RFC 8689) inside TLS; hidden by default, as smtp-server does. */
  readonly requireTls?: boolean
  readonly clientCertificate?: ClientCertificateCheck
  /** Reply to every RCPT TO instead of the local-part conventions. */
  readonly rcptReply?: RcptReply
  /** Delay before the greeting: a server too slow to answer. */
  readonly greetingDelayMs?: number
  /** Greet with this (a 4xx/5xx) instead of 220, then close: nothing before TLS is authenticated. */
  readonly greetingReply?: RcptReply
}

export interface RunningSmtpServer {
  readonly host: string
  readonly port: number
  readonly recorder: Recorder
  readonly stop: () => Promise<void>
}

const replyError = (code: number, message: string) =>
  Object.assign(new Error(message), { responseCode: code })

const conventionalReply = (address: string): RcptReply | undefined => {
  const local = address.split("@")[0]?.toLowerCase() ?? ""
  if (local.startsWith("defer")) return { code: 451, message: "4.2.0 Mailbox temporarily unavailable" }
  if (local.startsWith("reject")) return { code: 550, message: "5.1.1 No such user here" }
  return undefined
}

const tlsInfo = (socket: TLSSocket) => {
  const peer = socket.getPeerX509Certificate?.()
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher().name,
    servername: typeof socket.servername === "string" ? socket.servername : undefined,
    clientCertificate: peer ? { subject: peer.subject, authorized: socket.authorized } : undefined,
  }
}

export const startSmtpLabServer = async (config: LabServerConfig): Promise<RunningSmtpServer> => {
  const host = config.host ?? "127.0.0.1"
  const recorder = new Recorder()
  const timers = new Set<NodeJS.Timeout>()
  const current = new Map<string, ReceivedTransaction>()
  const mtls = config.clientCertificate

  const options: SMTPServerOptions = {
    name: config.name,
    banner: `${config.name} lab ESMTP`,
    key: config.key,
    cert: config.cert,
    minVersion: config.minVersion ?? "TLSv1.2",
    ...(config.maxVersion ? { maxVersion: config.maxVersion } : {}),
    ...(config.ciphers ? { ciphers: config.ciphers } : {}),
    ...(mtls ? { requestCert: true, rejectUnauthorized: mtls.refuseWith === "alert", ca: mtls.ca } : {}),
    hideSTARTTLS: config.hideStartTls ?? false,
    hideREQUIRETLS: !config.requireTls,
    disableReverseLookup: true,
    authOptional: true,
    logger: false,
    closeTimeout: 200,
    size: 50 * 1024 * 1024,
    onConnect(session, callback) {
      recorder.connection(session.id, session.remoteAddress)
      if (config.greetingReply)
        return callback(replyError(config.greetingReply.code, config.greetingReply.message))
      if (!config.greetingDelayMs) return callback()
      const timer = setTimeout(() => {
        timers.delete(timer)
        callback()
      }, config.greetingDelayMs)
      timers.add(timer)
    },
    onSecure(socket, session, callback) {
      const connection = recorder.connection(session.id, session.remoteAddress)
      const tlsSocket = socket as unknown as TLSSocket
      connection.secure = true
      connection.tls = tlsInfo(tlsSocket)
      if (mtls?.refuseWith === "reply") {
        if (!tlsSocket.getPeerX509Certificate()) {
          return callback(replyError(421, `4.7.1 ${config.name}: No client certificate presented`))
        }
        if (!tlsSocket.authorized) {
          return callback(replyError(421, `4.7.1 ${config.name}: Client certificate not trusted`))
        }
      }
      callback()
    },
    onMailFrom(address, session, callback) {
      const connection = recorder.connection(session.id, session.remoteAddress)
      connection.ehlo = session.hostNameAppearsAs
      const transaction: ReceivedTransaction = {
        mailFrom: address.address,
        requireTLS: (session.envelope as { requireTLS?: boolean }).requireTLS === true,
        rcptTo: [],
        rejected: [],
        body: undefined,
        startedAt: Date.now(),
      }
      connection.transactions.push(transaction)
      current.set(session.id, transaction)
      callback()
    },
    onRcptTo(address, session, callback) {
      const transaction = current.get(session.id)
      const reply = config.rcptReply ?? conventionalReply(address.address)
      if (reply && reply.code >= 400) {
        transaction?.rejected.push({ address: address.address, reply: `${reply.code} ${reply.message}` })
        return callback(replyError(reply.code, reply.message))
      }
      transaction?.rcptTo.push(address.address)
      callback()
    },
    onData(stream, session, callback) {
      const chunks: Array<Buffer> = []
      stream.on("data", (chunk: Buffer) => chunks.push(chunk))
      stream.on("end", () => {
        const transaction = current.get(session.id)
        if (transaction) {
          transaction.body = Buffer.concat(chunks)
          transaction.receivedAt = Date.now()
        }
        current.delete(session.id)
        callback(null, "2.0.0 Ok: queued as lab")
      })
    },
    onClose(session) {
      const connection = recorder.find(session.id)
      if (connection) {
        connection.ehlo = session.hostNameAppearsAs || connection.ehlo
        connection.closed = true
      }
      current.delete(session.id)
    },
  }

  const server = new SMTPServer(options)
  // Handshake failures are emitted here; without a listener they would end the process.
  server.on("error", () => {})
  server.listen(config.port ?? 0, host)
  await once(server.server, "listening")
  const { port } = server.server.address() as AddressInfo
  return {
    host,
    port,
    recorder,
    stop: async () => {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
