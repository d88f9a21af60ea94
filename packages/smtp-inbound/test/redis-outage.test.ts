import { createRootCa } from "@mailconnect/test-pki"
import { redisCommand, startRedis } from "@mailconnect/test-redis"
import { partner, policyWith, rawSmtp } from "@mailconnect/test-support"
import { describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { startTestIngress } from "./harness"

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
      const smtp = await rawSmtp(ingress.port("mx"))
      expect(await smtp.reply()).toMatch(/^220 /)
      expect(await smtp.command("EHLO client.test")).toMatch(/^250 /)
      expect(await smtp.command("MAIL FROM:<news@shop.example>")).toMatch(/^250 /)
      expect(await smtp.command("RCPT TO:<bob@customer.example>")).toMatch(/^250 /)
      expect(await smtp.command("DATA")).toMatch(/^354 /)
      smtp.send("Subject: during an outage\r\n\r\nfirst half\r\n")
      await redis.stop({ keepData: true })
      const final = await smtp.command("second half\r\n.", 60_000)
      expect(final).toMatch(/^451 4\.3\.0 /)
      smtp.destroy()

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
