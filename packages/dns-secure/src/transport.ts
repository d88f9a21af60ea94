/**
 * One exchange with one resolver: the query over UDP from a fresh socket (a port the OS picks at
 * random) connected to the resolver — so the kernel drops datagrams from any other address —
 * and over TCP when the answer comes back truncated (RFC 7766). Messages that are not the answer
 * to this query are ignored, not failures: a forger gets nothing but our timeout.
 */
import { createSocket } from "node:dgram"
import { createConnection } from "node:net"
import { Data, type Duration, Effect } from "effect"
import type { DnsAttempt } from "./errors"
import { type Query, type Response, responseTo } from "./message"
import type { DnsServer } from "./servers"

export class ExchangeFailed extends Data.TaggedError("ExchangeFailed")<DnsAttempt> {}

export interface Exchanged extends Response {
  readonly transport: DnsAttempt["transport"]
}

const MAX_TCP_MESSAGE = 65_535

const networkError = (server: DnsServer, transport: DnsAttempt["transport"], error: unknown) =>
  new ExchangeFailed({
    server: server.label,
    transport,
    reason: "network",
    detail: (error as NodeJS.ErrnoException).code ?? String(error),
  })

const timeout = (server: DnsServer, transport: DnsAttempt["transport"], after: Duration.DurationInput) =>
  Effect.timeoutFail({
    duration: after,
    onTimeout: () =>
      new ExchangeFailed({ server: server.label, transport, reason: "timeout", detail: "no answer" }),
  })

const overUdp = (server: DnsServer, query: Query): Effect.Effect<Response, ExchangeFailed> =>
  Effect.async<Response, ExchangeFailed>((resume) => {
    const socket = createSocket(server.family === 6 ? "udp6" : "udp4")
    let open = true
    const close = () => {
      if (!open) return
      open = false
      socket.close()
    }
    const finish = (result: Effect.Effect<Response, ExchangeFailed>) => {
      if (!open) return
      close()
      resume(result)
    }
    socket.on("error", (error) => finish(Effect.fail(networkError(server, "udp", error))))
    socket.on("message", (message) => {
      const response = responseTo(query, message)
      if (response) finish(Effect.succeed(response))
    })
    socket.connect(server.port, server.host, () => {
      if (open)
        socket.send(query.bytes, (error) => {
          if (error) finish(Effect.fail(networkError(server, "udp", error)))
        })
    })
    return Effect.sync(close)
  })

const overTcp = (server: DnsServer, query: Query): Effect.Effect<Response, ExchangeFailed> =>
  Effect.async<Response, ExchangeFailed>((resume) => {
    const socket = createConnection({ host: server.host, port: server.port })
    let done = false
    let received = Buffer.alloc(0)
    const finish = (result: Effect.Effect<Response, ExchangeFailed>) => {
      if (done) return
      done = true
      socket.destroy()
      resume(result)
    }
    socket.on("connect", () => {
      const length = Buffer.alloc(2)
      length.writeUInt16BE(query.bytes.length)
      socket.write(Buffer.concat([length, query.bytes]))
    })
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk])
      while (received.length >= 2) {
        const length = received.readUInt16BE(0)
        if (received.length < 2 + length) break
        const response = responseTo(query, received.subarray(2, 2 + length))
        received = received.subarray(2 + length)
        if (response) return finish(Effect.succeed(response))
      }
      if (received.length > 2 + MAX_TCP_MESSAGE) finish(Effect.fail(networkError(server, "tcp", "oversized")))
    })
    socket.on("error", (error) => finish(Effect.fail(networkError(server, "tcp", error))))
    socket.on("close", () => finish(Effect.fail(networkError(server, "tcp", "connection closed"))))
    return Effect.sync(() => {
      done = true
      socket.destroy()
    })
  })

/** UDP, then TCP when truncated; each bounded by `after`. */
export const exchange = (
  server: DnsServer,
  query: Query,
  after: Duration.DurationInput,
): Effect.Effect<Exchanged, ExchangeFailed> =>
  overUdp(server, query).pipe(
    timeout(server, "udp", after),
    Effect.flatMap((response) =>
      response.truncated
        ? overTcp(server, query).pipe(
            timeout(server, "tcp", after),
            Effect.map((r): Exchanged => ({ ...r, transport: "tcp" })),
          )
        : Effect.succeed<Exchanged>({ ...response, transport: "udp" }),
    ),
  )
