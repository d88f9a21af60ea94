/**
 * The memory budget for message bodies in flight, with real SMTP clients on a real MX listener:
 * while one transaction holds most of the budget mid-DATA, a second message that would go over
 * it is answered 452 4.3.1 (and nothing is queued); once the first is queued the budget is free
 * again and the next message is taken.
 */
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { customerDomains, policyWith, rawSmtp } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { type RunningIngress, send, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "data budget root" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  const base = testIngressConfig(
    relayCert,
    [{ kind: "mx", host: "127.0.0.1", port: 0 }],
    fileUserDirectory(undefined, () => undefined),
  )
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "data-budget",
    policy: policyWith([], { localDomains: customerDomains }),
    // 64 KiB messages at most, 100 KiB in flight in all.
    config: { ...base, limits: { ...base.limits, maxBufferedBytes: 100 * 1024 } },
  })
}, 60_000)

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

const body = (subject: string, kib: number) =>
  `From: a@sender.example\r\nTo: bob@customer.example\r\nSubject: ${subject}\r\n\r\n${`${"x".repeat(1022)}\r\n`.repeat(kib)}`

const plainSend = (subject: string, kib: number) =>
  send({
    port: ingress.port("mx"),
    starttls: false,
    from: "a@sender.example",
    to: ["bob@customer.example"],
    body: body(subject, kib),
  })

describe("the memory budget for message bodies", () => {
  it("answers 452 4.3.1 to a message that would go over it, and takes mail again once it is free", async () => {
    const held = await rawSmtp(ingress.port("mx"))
    try {
      await held.reply()
      await held.command("EHLO held.example")
      expect(await held.command("MAIL FROM:<a@sender.example>")).toMatch(/^250/)
      expect(await held.command("RCPT TO:<bob@customer.example>")).toMatch(/^250/)
      expect(await held.command("DATA")).toMatch(/^354/)
      held.send(body("held", 60))
      // Let the listener take the 60 KiB it has been sent before the second client comes.
      await new Promise((r) => setTimeout(r, 500))

      const refused = await plainSend("over budget", 50)
      expect(refused.ok).toBe(false)
      expect(refused.response).toMatch(/^452 4\.3\.1 /)
      expect(ingress.refused).toContain("memory-budget")

      held.send(".\r\n")
      expect(await held.reply()).toMatch(/^250 /)
    } finally {
      held.destroy()
    }
    const accepted = await plainSend("after", 50)
    expect(accepted.response).toMatch(/^250 /)
  })
})
