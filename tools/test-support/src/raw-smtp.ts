/**
 * Raw SMTP clients for tests, for what nodemailer will not send as written.
 *
 * `rawSmtp` sends exactly the bytes a test wants on a socket (half a DATA, garbage, pipelined
 * batches) and records every reply line, so tests can check that each one is well-formed and that
 * no `250` arrives where none may. `rawSmtpOverTls` runs a list of commands over implicit TLS as
 * UTF-8 bytes (nodemailer turns a Unicode domain into A-labels itself) and returns each full reply.
 */
import { createConnection, type Socket } from "node:net"
import { type TLSSocket, connect as tlsConnect } from "node:tls"

export interface RawSmtp {
  /** Every complete line received, in order. */
  readonly lines: Array<string>
  /** Resolves with the next complete reply (its last line), or "closed". */
  readonly reply: (timeoutMs?: number) => Promise<string>
  readonly send: (text: string) => void
  readonly command: (line: string, timeoutMs?: number) => Promise<string>
  /** STARTTLS already answered 220: wraps the socket in TLS. */
  readonly upgrade: (options: { ca: string; servername: string }) => Promise<void>
  readonly closed: Promise<void>
  readonly isClosed: () => boolean
  readonly destroy: () => void
}

export const rawSmtp = async (port: number, host = "127.0.0.1"): Promise<RawSmtp> => {
  let socket: Socket | TLSSocket = createConnection({ host, port })
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve)
    socket.once("error", reject)
  })
  const lines: Array<string> = []
  const replies: Array<string> = []
  const waiters: Array<(line: string) => void> = []
  let buffer = ""
  let closed = false
  let markClosed: () => void = () => {}
  const closedPromise = new Promise<void>((resolve) => {
    markClosed = resolve
  })
  const deliver = (line: string) => {
    const waiter = waiters.shift()
    if (waiter) waiter(line)
    else replies.push(line)
  }
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString("latin1")
    for (let end = buffer.indexOf("\r\n"); end >= 0; end = buffer.indexOf("\r\n")) {
      const line = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      lines.push(line)
      // Only the last line of a multi-line reply (code + space) completes it.
      if (!/^\d{3}-/.test(line)) deliver(line)
    }
  }
  const onClose = () => {
    if (closed) return
    closed = true
    markClosed()
    while (waiters.length > 0) waiters.shift()?.("closed")
  }
  const attach = (s: Socket) => {
    s.on("data", onData)
    s.on("close", onClose)
    s.on("error", () => onClose())
  }
  attach(socket)
  const reply = (timeoutMs = 15_000) =>
    new Promise<string>((resolve) => {
      const ready = replies.shift()
      if (ready !== undefined) return resolve(ready)
      if (closed) return resolve("closed")
      const timer = setTimeout(() => {
        const index = waiters.indexOf(done)
        if (index >= 0) waiters.splice(index, 1)
        resolve("timeout")
      }, timeoutMs)
      const done = (line: string) => {
        clearTimeout(timer)
        resolve(line)
      }
      waiters.push(done)
    })
  const send = (text: string) => {
    if (!closed) socket.write(text, "latin1")
  }
  return {
    lines,
    reply,
    send,
    command: (line, timeoutMs) => {
      send(`${line}\r\n`)
      return reply(timeoutMs)
    },
    upgrade: async ({ ca, servername }) => {
      const plain = socket
      plain.removeListener("data", onData)
      plain.removeListener("close", onClose)
      const secure = tlsConnect({ socket: plain, ca, servername, minVersion: "TLSv1.2" })
      await new Promise<void>((resolve, reject) => {
        secure.once("secureConnect", resolve)
        secure.once("error", reject)
      })
      socket = secure
      attach(secure)
    },
    closed: closedPromise,
    isClosed: () => closed,
    destroy: () => socket.destroy(),
  }
}

/** SMTP reply line shape (RFC 5321 §4.2): three digits, then space or hyphen, or end of line. */
export const WELL_FORMED_REPLY = /^[2-5]\d{2}(?:[ -].*)?$/

/** Enhanced status code (RFC 3463) right after the code, as our listeners send for 2xx/4xx/5xx. */
export const ENHANCED = /^([245])\d{2}[ -]\1\.\d{1,3}\.\d{1,3}(?: |$)/

export interface RawReply {
  readonly command: string
  readonly code: number
  readonly text: string
}

const readReply = (socket: TLSSocket, buffered: { text: string }): Promise<string> =>
  new Promise((resolve, reject) => {
    const complete = () => {
      const lines = buffered.text.split("\r\n")
      const last = lines.findIndex((line) => /^\d{3} /.test(line))
      if (last === -1) return false
      const reply = lines.slice(0, last + 1).join("\r\n")
      buffered.text = lines.slice(last + 1).join("\r\n")
      cleanup()
      resolve(reply)
      return true
    }
    const onData = (chunk: Buffer) => {
      buffered.text += chunk.toString("utf8")
      complete()
    }
    const onEnd = () => {
      cleanup()
      reject(new Error(`connection closed, unread: ${buffered.text}`))
    }
    const cleanup = () => {
      socket.off("data", onData)
      socket.off("end", onEnd)
      socket.off("error", onEnd)
    }
    if (complete()) return
    socket.on("data", onData)
    socket.on("end", onEnd)
    socket.on("error", onEnd)
  })

/** Runs `commands` (a DATA body is one command ending in `\r\n.`) and returns every reply, greeting first. */
export const rawSmtpOverTls = async (options: {
  readonly port: number
  readonly ca: string
  readonly commands: ReadonlyArray<string>
}): Promise<ReadonlyArray<RawReply>> => {
  const socket = tlsConnect({
    host: "127.0.0.1",
    port: options.port,
    ca: options.ca,
    servername: "relay.test",
  })
  const buffered = { text: "" }
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve())
      socket.once("error", reject)
    })
    const replies: Array<RawReply> = []
    const record = (command: string, reply: string) =>
      replies.push({ command, code: Number(reply.slice(0, 3)), text: reply })
    record("(greeting)", await readReply(socket, buffered))
    for (const command of options.commands) {
      socket.write(Buffer.from(`${command}\r\n`, "utf8"))
      record(command, await readReply(socket, buffered))
    }
    return replies
  } finally {
    socket.destroy()
  }
}

export const authPlain = (user: string, pass: string): string =>
  `AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`, "utf8").toString("base64")}`
