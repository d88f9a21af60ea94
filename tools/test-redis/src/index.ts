/**
 * Starts a real `redis-server` on a free loopback port for tests, benches and the local stack.
 * Each instance gets its own temporary directory (AOF optional) and is killed on `stop()`.
 * Nothing here mocks Redis: if `redis-server` is missing the start fails with a clear message.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createConnection, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { tiedToParent } from "./lifeline"

export interface RedisServerOptions {
  /** Extra `redis-server` arguments, e.g. `["--appendonly", "yes"]`. */
  readonly args?: ReadonlyArray<string>
  /** Data directory; a fresh temporary one when absent (removed on stop). */
  readonly dir?: string
  readonly port?: number
}

export interface RedisServer {
  readonly host: string
  readonly port: number
  readonly url: string
  readonly dir: string
  /** SIGTERM (or SIGKILL) and wait for exit. Keeps the data directory when `keepData`. */
  readonly stop: (opts?: { signal?: NodeJS.Signals; keepData?: boolean }) => Promise<void>
  /** Stops and starts again on the same port and directory (data kept, AOF replayed if on). */
  readonly restart: () => Promise<void>
  /**
   * SIGSTOP / SIGCONT: the server stays bound but answers nothing, like a host behind a dead
   * link — clients see timeouts rather than refused connections.
   */
  readonly pause: () => void
  readonly resume: () => void
}

export const freePort = (host = "127.0.0.1"): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      )
    })
  })

const ping = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ host, port })
    let reply = ""
    socket.setTimeout(500, () => {
      socket.destroy()
      resolve(false)
    })
    socket.on("error", () => resolve(false))
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk) => {
      reply += chunk.toString()
      if (reply.includes("\r\n")) {
        socket.destroy()
        resolve(reply.startsWith("+PONG"))
      }
    })
  })

const waitUntilReady = async (host: string, port: number, child: ChildProcess, log: () => string) => {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${log()}`)
    if (await ping(host, port)) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`redis-server on ${host}:${port} did not answer PING: ${log()}`)
}

const launch = async (host: string, port: number, dir: string, args: ReadonlyArray<string>) => {
  const child = spawn(
    ...tiedToParent("redis-server", [
      "--port",
      String(port),
      "--bind",
      host,
      "--dir",
      dir,
      "--save",
      "",
      "--protected-mode",
      "no",
      ...args,
    ]),
    { stdio: ["ignore", "pipe", "pipe"] },
  )
  let output = ""
  child.stdout?.on("data", (c) => {
    output = (output + c.toString()).slice(-4000)
  })
  child.stderr?.on("data", (c) => {
    output = (output + c.toString()).slice(-4000)
  })
  const spawnError = new Promise<never>((_, reject) =>
    child.once("error", (e) =>
      reject(new Error(`cannot start redis-server (${e.message}); install it: apt-get install redis-server`)),
    ),
  )
  await Promise.race([waitUntilReady(host, port, child, () => output), spawnError])
  return child
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once("exit", () => resolve()))

export const startRedis = async (options: RedisServerOptions = {}): Promise<RedisServer> => {
  const host = "127.0.0.1"
  const ownDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "mc-redis-"))
  const args = options.args ?? []
  let port = options.port ?? (await freePort(host))
  let child: ChildProcess | undefined
  for (let attempt = 0; ; attempt++) {
    try {
      child = await launch(host, port, dir, args)
      break
    } catch (e) {
      // Another process may have taken the port between freePort() and the bind; try another.
      if (attempt >= 3 || options.port !== undefined) throw e
      port = await freePort(host)
    }
  }
  let current: ChildProcess = child
  const stop: RedisServer["stop"] = async (opts = {}) => {
    current.kill(opts.signal ?? "SIGTERM")
    // A paused server would never act on SIGTERM.
    current.kill("SIGCONT")
    await exited(current)
    if (ownDir && !opts.keepData) rmSync(dir, { recursive: true, force: true })
  }
  return {
    host,
    port,
    url: `redis://${host}:${port}`,
    dir,
    stop,
    restart: async () => {
      current.kill("SIGTERM")
      await exited(current)
      current = await launch(host, port, dir, args)
    },
    pause: () => {
      current.kill("SIGSTOP")
    },
    resume: () => {
      current.kill("SIGCONT")
    },
  }
}
export * from "./cluster"
export * from "./command"
export * from "./lifeline"
export * from "./sentinel"
