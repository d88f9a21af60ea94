/**
 * A man-in-the-middle TCP proxy in front of a lab server: the attacks an opportunistic sender
 * falls for. `strip-starttls` removes STARTTLS from the EHLO reply (the downgrade attack);
 * `drop-after-starttls` answers STARTTLS with 220 and then cuts the connection; `refuse-ehlo`
 * answers EHLO itself with `502 5.5.1` (a server that only speaks HELO, or an attacker who wants
 * the sender to skip EHLO and with it STARTTLS) and forwards everything else.
 */
import { once } from "node:events"
import { type AddressInfo, connect, createServer, type Socket } from "node:net"

export type MitmMode = "strip-starttls" | "drop-after-starttls" | "refuse-ehlo"

export interface RunningProxy {
  readonly host: string
  readonly port: number
  readonly stop: () => Promise<void>
}

/** Rewrites one multi-line reply without its STARTTLS line, keeping the last line's `250 ` form. */
export const stripStartTls = (reply: string): string => {
  const lines = reply.split("\r\n").filter((line) => line.length > 0)
  const kept = lines.filter((line, i) => i === 0 || !/^250[ -]STARTTLS\s*$/i.test(line))
  if (kept.length === lines.length) return reply
  return `${kept.map((line, i) => (i === kept.length - 1 ? line.replace(/^250-/, "250 ") : line)).join("\r\n")}\r\n`
}

/** Splits the server's byte stream into complete replies (last line `NNN ` form). */
const replySplitter = (onReply: (reply: string) => void) => {
  let buffered = ""
  let reply = ""
  return (chunk: Buffer) => {
    buffered += chunk.toString("latin1")
    for (let end = buffered.indexOf("\r\n"); end !== -1; end = buffered.indexOf("\r\n")) {
      const line = buffered.slice(0, end + 2)
      buffered = buffered.slice(end + 2)
      reply += line
      if (/^\d{3}(?: |\r\n)/.test(line)) {
        onReply(reply)
        reply = ""
      }
    }
  }
}

export const startMitmProxy = async (
  target: { host: string; port: number },
  mode: MitmMode,
  host = "127.0.0.1",
): Promise<RunningProxy> => {
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
  }
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    track(client)
    track(upstream)
    const closeBoth = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on("close", closeBoth)
    upstream.on("close", closeBoth)
    // A client that sends STARTTLS regardless gets a plain relay from the server's answer on:
    // what follows is TLS, not lines.
    let startTlsSent = false
    let raw = false
    const split = replySplitter((reply) => {
      client.write(mode === "strip-starttls" ? stripStartTls(reply) : reply, "latin1")
      if (startTlsSent) raw = true
    })
    upstream.on("data", (chunk: Buffer) => (raw ? client.write(chunk) : split(chunk)))
    client.on("data", (chunk) => {
      if (!raw && mode === "refuse-ehlo" && /^EHLO /i.test(chunk.toString("latin1"))) {
        client.write("502 5.5.1 EHLO not implemented\r\n")
        return
      }
      if (!raw && /^STARTTLS\r?\n/im.test(chunk.toString("latin1"))) {
        if (mode === "drop-after-starttls") {
          client.end("220 2.0.0 Ready to start TLS\r\n", () => closeBoth())
          return
        }
        startTlsSent = true
      }
      upstream.write(chunk)
    })
  })
  server.listen(0, host)
  await once(server, "listening")
  const { port } = server.address() as AddressInfo
  return {
    host,
    port,
    stop: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
