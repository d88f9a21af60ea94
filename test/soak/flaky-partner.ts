/**
 * The soak's partner: one address (a TCP front on a fixed loopback port) whose behaviour the fault
 * script switches while mail flows. Per new connection, by the current mode:
 * - `good`: a real smtp-server with STARTTLS and the partner's current certificate;
 * - `refuse`: greets `421 4.3.2` and closes (a partner turning connections away);
 * - `silent`: accepts and says nothing until the fault ends, then resets (a dead link: the relay's
 *   own greeting timeout is 5 min, longer than a fault lasts);
 * - `drop-final`: a server that takes the whole message after DATA and cuts the connection
 *   before its final reply (the partner may keep it; the relay cannot know: a duplicate);
 * - `plaintext`: a server that offers no STARTTLS (a downgrade) — an enforce partner must get
 *   nothing over it.
 * Every message body any backend received is recorded with the mode it arrived in and whether
 * the session was inside TLS; the certificate can be rotated (new CA) while mail flows.
 * Local parts `reject…` get 550, as on every lab server.
 */
import { once } from "node:events"
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net"
import type { IssuedCertificate } from "@mailconnect/test-pki"
import { SMTPServer } from "smtp-server"

export type PartnerMode = "good" | "refuse" | "silent" | "drop-final" | "plaintext"

export interface PartnerDelivery {
  readonly at: number
  readonly mode: PartnerMode
  readonly secure: boolean
  readonly mailFrom: string
  readonly rcptTo: ReadonlyArray<string>
  readonly body: string
  /** False when the backend cut the connection instead of its final reply. */
  readonly acknowledged: boolean
}

export interface FlakyPartner {
  readonly host: string
  readonly port: number
  readonly name: string
  readonly deliveries: ReadonlyArray<PartnerDelivery>
  readonly mode: () => PartnerMode
  /**
   * Switches the mode and resets every open connection (relays keep verified connections open
   * for reuse; without the reset a fault would only meet new ones). Returns how many were cut.
   */
  readonly setMode: (mode: PartnerMode) => number
  /** Connections taken, by the mode they met. */
  readonly connections: () => Readonly<Record<string, number>>
  /** Serves `certificate` from now on (new connections; the old backends are closed). */
  readonly rotate: (certificate: IssuedCertificate) => Promise<void>
  readonly stop: () => Promise<void>
}

interface ConnectionLike {
  readonly id: string
  readonly _socket: Socket
}

const listen = async (server: Server): Promise<number> => {
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return (server.address() as AddressInfo).port
}

export const startFlakyPartner = async (name: string, initial: IssuedCertificate): Promise<FlakyPartner> => {
  const deliveries: Array<PartnerDelivery> = []
  let mode: PartnerMode = "good"

  const backend = async (kind: PartnerMode, certificate: IssuedCertificate) => {
    const rcpts = new Map<string, Array<string>>()
    const server: SMTPServer = new SMTPServer({
      name,
      key: certificate.keyPem,
      cert: certificate.chainPem,
      minVersion: "TLSv1.2",
      hideSTARTTLS: kind === "plaintext",
      disableReverseLookup: true,
      authOptional: true,
      logger: false,
      closeTimeout: 200,
      onRcptTo(address, session, callback) {
        if (/^reject/i.test(address.address))
          return callback(Object.assign(new Error("5.1.1 No such user here"), { responseCode: 550 }))
        rcpts.set(session.id, [...(rcpts.get(session.id) ?? []), address.address])
        callback()
      },
      onData(stream, session, callback) {
        const chunks: Array<Buffer> = []
        stream.on("data", (c: Buffer) => chunks.push(c))
        stream.on("end", () => {
          const drop = kind === "drop-final"
          deliveries.push({
            at: Date.now(),
            mode: kind,
            secure: session.secure === true,
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            rcptTo: rcpts.get(session.id) ?? [],
            body: Buffer.concat(chunks).toString("latin1"),
            acknowledged: !drop,
          })
          rcpts.delete(session.id)
          if (drop) {
            const connections = (server as unknown as { connections: Set<ConnectionLike> }).connections
            for (const c of connections) if (c.id === session.id) c._socket.destroy()
            return
          }
          callback(null, "2.0.0 Ok: queued")
        })
      },
    })
    server.on("error", () => {})
    const port = await listen(server.server)
    return { port, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) }
  }

  const start = async (certificate: IssuedCertificate) => ({
    good: await backend("good", certificate),
    "drop-final": await backend("drop-final", certificate),
    plaintext: await backend("plaintext", certificate),
  })
  let backends = await start(initial)

  const held = new Set<Socket>()
  const sockets = new Set<Socket>()
  const clients = new Set<Socket>()
  const connections: Record<string, number> = {}
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
  }
  const front = createServer((client) => {
    track(client)
    clients.add(client)
    client.on("close", () => clients.delete(client))
    connections[mode] = (connections[mode] ?? 0) + 1
    switch (mode) {
      case "refuse":
        client.end("421 4.3.2 lab: not accepting connections now\r\n")
        return
      case "silent":
        held.add(client)
        client.on("close", () => held.delete(client))
        return
      default: {
        const upstream = connect(backends[mode].port, "127.0.0.1")
        track(upstream)
        const closeBoth = () => {
          client.destroy()
          upstream.destroy()
        }
        client.on("close", closeBoth)
        upstream.on("close", closeBoth)
        client.pipe(upstream)
        upstream.pipe(client)
      }
    }
  })
  const port = await listen(front)

  return {
    host: "127.0.0.1",
    port,
    name,
    deliveries,
    mode: () => mode,
    connections: () => connections,
    setMode: (next) => {
      mode = next
      const cut = clients.size
      for (const socket of clients) socket.resetAndDestroy()
      clients.clear()
      held.clear()
      return cut
    },
    rotate: async (certificate) => {
      const old = backends
      backends = await start(certificate)
      await Promise.all(Object.values(old).map((b) => b.stop()))
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => front.close(() => resolve()))
      await Promise.all(Object.values(backends).map((b) => b.stop()))
    },
  }
}
