import { createConnection } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RedisServer, startRedis } from "../src"

const command = (port: number, line: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write(`${line}\r\n`))
    socket.on("data", (chunk) => {
      socket.destroy()
      resolve(chunk.toString())
    })
    socket.on("error", reject)
  })

describe("test redis harness", () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis({ args: ["--appendonly", "yes"] })
  })
  afterAll(() => redis.stop())

  it("starts a real server on a loopback port", async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`)
    expect(await command(redis.port, "PING")).toBe("+PONG\r\n")
  })

  it("keeps AOF data across a restart", async () => {
    expect(await command(redis.port, "SET k v")).toBe("+OK\r\n")
    await redis.restart()
    expect(await command(redis.port, "GET k")).toBe("$1\r\nv\r\n")
  })
})
