/**
 * A raw SMTP client over implicit TLS, for what nodemailer will not send as written: it turns an
 * ASCII-local-part address's domain into A-labels itself, so Unicode domains would never reach the
 * server. Commands go out as UTF-8 bytes, one at a time; each reply is read to its last line.
 */
import { connect, type TLSSocket } from "node:tls"

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
  const socket = connect({ host: "127.0.0.1", port: options.port, ca: options.ca, servername: "relay.test" })
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
