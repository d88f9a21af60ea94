import { createConnection, type Socket } from "node:net"
import { createRootCa } from "@mailconnect/test-pki"
import { redisCommand, startRedis } from "@mailconnect/test-redis"
import { describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { partner, policyWith, startTestIngress } from "./harness"

/** A line-by-line SMTP client on a raw socket, to stop Redis in the middle of DATA. */
const rawSession = (port: number) => {
  const socket: Socket = createConnection({ host: "127.0.0.1", port })
  let buffer = ""
  const waiters: Array<(line: string) => void> = []
  socket.on("data", (chunk) => {
    buffer += chunk.toString()
    let end = buffer.indexOf("\r\n")
    while (end >= 0) {
      const line = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      // Multi-line replies: only the last line (code + space) completes a reply.
      if (/^\d{3} /.test(line)) waiters.shift()?.(line)
      end = buffer.indexOf("\r\n")
    }
  })
  const reply = () => new Promise<string>((resolve) => waiters.push(resolve))
  return {
    greeting: reply(),
    command: (line: string) => {
      const next = reply()
      socket.write(`${line}\r\n`)
      return next
    },
    write: (text: string) => socket.write(text),
    close: () => socket.destroy(),
  }
}

describe("Redis going away during DATA", () => {
  it("answers 451 4.3.0, never 250, and leaves nothing half-stored", async () => {
    const redis = await startRedis({ args: ["--appendonly", "yes"] })
    const root = await createRootCa()
    const cert = await root.issueServer({ names: ["relay.test"] })
    const ingress = await startTestIngress({
      redisUrl: redis.url,
      prefix: "outage",
      policy: policyWith([partner("shop", {})]),
      config: {
        hostname: "relay.test",
        listeners: [{ kind: "mx", host: "127.0.0.1", port: 0 }],
        tls: { key: cert.keyPem, cert: cert.chainPem, minVersion: "TLSv1.2" },
        limits: {
          maxMessageBytes: 1024 * 1024,
          maxRecipients: 100,
          socketTimeoutMs: 30_000,
          drainTimeoutMs: 1_000,
        },
        users: fileUserDirectory(undefined, () => undefined),
      },
    })
    try {
      const smtp = rawSession(ingress.port("mx"))
      expect(await smtp.greeting).toMatch(/^220 /)
      expect(await smtp.command("EHLO client.test")).toMatch(/^250 /)
      expect(await smtp.command("MAIL FROM:<news@shop.example>")).toMatch(/^250 /)
      expect(await smtp.command("RCPT TO:<bob@customer.example>")).toMatch(/^250 /)
      expect(await smtp.command("DATA")).toMatch(/^354 /)
      smtp.write("Subject: during an outage\r\n\r\nfirst half\r\n")
      await redis.stop({ keepData: true })
      const final = await smtp.command("second half\r\n.")
      expect(final).toMatch(/^451 4\.3\.0 /)
      smtp.close()

      await redis.restart()
      // Nothing of the refused message: no body in the spool, no delivery job.
      const keys = (await redisCommand(redis.port, "KEYS", "{outage}:*")) as ReadonlyArray<string>
      expect(
        keys.filter((k) => k.startsWith("{outage}:spool:") || k.startsWith("{outage}:msgjobs:")),
      ).toEqual([])
      expect(await redisCommand(redis.port, "ZCARD", "{outage}:delivery:delayed")).toBe(0)
      expect(await redisCommand(redis.port, "LLEN", "{outage}:delivery:wait")).toBe(0)
    } finally {
      await ingress.close()
      await redis.stop()
    }
  })
})
