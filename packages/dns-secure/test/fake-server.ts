/**
 * A misbehaving DNS server on loopback for the cases the real lab cannot play: silence,
 * forgeries, REFUSED, a truncated UDP answer. UDP and TCP on one port; every query is recorded.
 */
import { createSocket, type RemoteInfo } from "node:dgram"
import { once } from "node:events"
import { type AddressInfo, createServer, type Socket } from "node:net"
import * as dnsPacket from "dns-packet"

export interface Exchange {
  readonly transport: "udp" | "tcp"
  readonly query: dnsPacket.DecodedPacket
  /** Sends a message back the way the query came. */
  readonly reply: (message: Buffer) => void
  /** The client's address, for a forger sending from elsewhere. */
  readonly from: { readonly address: string; readonly port: number }
}

export interface FakeServer {
  readonly host: string
  readonly port: number
  readonly server: string
  readonly exchanges: Array<Exchange>
  readonly stop: () => Promise<void>
}

/**
 * Binds UDP on a free port, then TCP on the same number; another process may hold that TCP
 * port, so a taken port is given up and another tried.
 */
export const startFakeServer = async (
  handle: (exchange: Exchange) => void,
  host = "127.0.0.1",
): Promise<FakeServer> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(handle, host)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 20) throw error
    }
  }
}

const startOnce = async (handle: (exchange: Exchange) => void, host: string): Promise<FakeServer> => {
  const exchanges: Array<Exchange> = []
  const udp = createSocket(host.includes(":") ? "udp6" : "udp4")
  const record = (exchange: Exchange) => {
    exchanges.push(exchange)
    handle(exchange)
  }
  udp.on("message", (message: Buffer, from: RemoteInfo) => {
    record({
      transport: "udp",
      query: dnsPacket.decode(message),
      reply: (m) => udp.send(m, from.port, from.address),
      from: { address: from.address, port: from.port },
    })
  })
  udp.bind(0, host)
  await once(udp, "listening")
  const { port } = udp.address() as AddressInfo

  const connections = new Set<Socket>()
  const tcp = createServer((socket) => {
    connections.add(socket)
    socket.on("close", () => connections.delete(socket))
    socket.on("error", () => {})
    let received = Buffer.alloc(0)
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk])
      while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        const message = received.subarray(2, 2 + received.readUInt16BE(0))
        received = received.subarray(2 + message.length)
        record({
          transport: "tcp",
          query: dnsPacket.decode(message),
          reply: (m) => {
            const length = Buffer.alloc(2)
            length.writeUInt16BE(m.length)
            socket.write(Buffer.concat([length, m]))
          },
          from: { address: socket.remoteAddress ?? host, port: socket.remotePort ?? 0 },
        })
      }
    })
  })
  tcp.listen(port, host)
  try {
    await once(tcp, "listening")
  } catch (error) {
    await new Promise<void>((r) => udp.close(() => r()))
    throw error
  }

  let stopped: Promise<void> | undefined

  return {
    host,
    port,
    server: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    exchanges,
    stop: () => {
      stopped ??= (async () => {
        for (const socket of connections) socket.destroy()
        await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise((r) => tcp.close(r))])
      })()
      return stopped
    },
  }
}

/** A response to `query` with its id and question, `flags` added (e.g. AD, TC). */
export const responseFor = (
  query: dnsPacket.DecodedPacket,
  answers: ReadonlyArray<dnsPacket.Answer>,
  overrides: {
    readonly id?: number
    readonly flags?: number
    readonly rcode?: number
    readonly name?: string
  } = {},
): Buffer => {
  const question = query.questions![0]!
  return dnsPacket.encode({
    id: overrides.id ?? query.id ?? 0,
    type: "response",
    flags:
      dnsPacket.RECURSION_DESIRED |
      dnsPacket.RECURSION_AVAILABLE |
      (overrides.flags ?? 0) |
      (overrides.rcode ?? 0),
    questions: [{ ...question, name: overrides.name ?? question.name }],
    answers: [...answers],
  })
}
