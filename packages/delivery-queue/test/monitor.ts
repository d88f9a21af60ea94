/**
 * Redis `MONITOR` over a socket of its own, for tests that check which commands a component
 * sends and on which connection (e.g. that an enqueue is one MULTI). Loopback only.
 */
import { createConnection } from "node:net"

export interface MonitoredCommand {
  /** The client's address, e.g. `127.0.0.1:51234`: one per connection. */
  readonly client: string
  readonly command: string
  readonly args: ReadonlyArray<string>
}

const LINE = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/

/** `"EVALSHA" "abc" "3"` → ["EVALSHA", "abc", "3"] (MONITOR quotes and escapes each argument). */
const splitQuoted = (text: string): ReadonlyArray<string> =>
  [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, "$1"))

/** Records every command Redis runs until `stop()`; resolves once MONITOR is on. */
export const monitor = (port: number) =>
  new Promise<{ readonly stop: () => ReadonlyArray<MonitoredCommand> }>((resolve, reject) => {
    const seen: Array<MonitoredCommand> = []
    let pending = ""
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write("MONITOR\r\n"))
    socket.on("error", reject)
    socket.on("data", (chunk) => {
      pending += chunk.toString("latin1")
      const lines = pending.split("\r\n")
      pending = lines.pop() ?? ""
      for (const line of lines) {
        if (line === "+OK") {
          resolve({
            stop: () => {
              socket.destroy()
              return seen
            },
          })
          continue
        }
        const match = LINE.exec(line)
        if (!match) continue
        const [command = "", ...args] = splitQuoted(match[2]!)
        seen.push({ client: match[1]!, command: command.toUpperCase(), args })
      }
    })
  })
