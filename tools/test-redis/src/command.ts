/**
 * One Redis command over a fresh socket, for tests that inspect what a component left behind
 * (e.g. `KEYS {prefix}:*` after a fault) without going through that component.
 */
import { createConnection } from "node:net"

export type RespValue = string | number | null | ReadonlyArray<RespValue>

const encode = (args: ReadonlyArray<string>) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`

/** Parses one RESP2 value at `offset`; returns undefined when more bytes are needed. */
const parse = (text: string, offset: number): [RespValue, number] | undefined => {
  const end = text.indexOf("\r\n", offset)
  if (end < 0) return undefined
  const type = text[offset]
  const line = text.slice(offset + 1, end)
  switch (type) {
    case "+":
      return [line, end + 2]
    case "-":
      throw new Error(`redis error: ${line}`)
    case ":":
      return [Number(line), end + 2]
    case "$": {
      const length = Number(line)
      if (length < 0) return [null, end + 2]
      if (text.length < end + 2 + length + 2) return undefined
      return [text.slice(end + 2, end + 2 + length), end + 2 + length + 2]
    }
    case "*": {
      const count = Number(line)
      if (count < 0) return [null, end + 2]
      const items: Array<RespValue> = []
      let at = end + 2
      for (let i = 0; i < count; i++) {
        const item = parse(text, at)
        if (!item) return undefined
        items.push(item[0])
        at = item[1]
      }
      return [items, at]
    }
    default:
      throw new Error(`unexpected RESP type ${type}`)
  }
}

export const redisCommand = (port: number, ...args: ReadonlyArray<string>): Promise<RespValue> =>
  new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write(encode(args)))
    let text = ""
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8")
      try {
        const value = parse(text, 0)
        if (value) {
          socket.destroy()
          resolve(value[0])
        }
      } catch (e) {
        socket.destroy()
        reject(e)
      }
    })
    socket.on("error", reject)
    // A port held by something that never answers must not hold the caller for ever.
    socket.setTimeout(5_000, () => {
      socket.destroy()
      reject(new Error(`no reply from 127.0.0.1:${port} to ${args[0]} within 5 s`))
    })
  })
