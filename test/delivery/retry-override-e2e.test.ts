/**
 * A partner's retry override in seconds, end to end on the real clock: real Redis and BullMQ,
 * the outbound adapter failing against a partner whose certificate has expired, and the DSNs
 * delivered over SMTP to a lab server standing in for our customer's mailbox server, then
 * parsed back with a MIME parser and their delivery-status fields checked.
 */

import { Enqueue, QueueAdmin } from "@mailconnect/delivery-queue"
import { type Lab, startLab } from "@mailconnect/partner-lab"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect } from "effect"
import { simpleParser } from "mailparser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually, outboundWorkerLayer, partner, policySet } from "./harness"

let redis: RedisServer
let lab: Lab
beforeAll(async () => {
  redis = await startRedis()
  lab = await startLab({ scenarios: ["good", "expired"] })
})
afterAll(async () => {
  await lab?.stop()
  await redis?.stop()
})

/** The `message/delivery-status` part's recipient fields (mailparser folds it into the text). */
const deliveryStatus = (raw: string): Record<string, string> => {
  const part = raw
    .split(/\r\n--=_mc_[0-9a-f]+/)
    .find((p) => p.includes("Content-Type: message/delivery-status"))!
  const recipientBlock = part.split(/\r\n\r\n/).find((b) => b.startsWith("Final-Recipient"))!
  return Object.fromEntries(
    recipientBlock.split("\r\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
  )
}

describe("a partner's retry override in seconds", () => {
  it("warns after 2 s, bounces at 6 s with the precise cause, on the real clock", async () => {
    const expired = lab.scenario("expired")
    const good = lab.scenario("good")
    const retry = { schedule: [1_000], every: 1_000, warnAfter: 2_000, expireAfter: 6_000 }
    const policy = policySet(
      [
        partner("hasty", ["hasty.example"], {
          servers: [{ host: expired.host, port: expired.port }],
          tls: {
            mode: "enforce",
            minVersion: "TLSv1.2",
            verify: {
              trust: "pkix",
              names: [expired.name],
              pins: [],
              ca: {
                file: "lab.pem",
                pem: lab.pki.root.certPem,
                sha256: "-",
                notAfter: "2036-01-01T00:00:00Z",
              },
            },
          },
          retry,
        }),
      ],
      good.port,
    )
    const layer = outboundWorkerLayer({ redisUrl: redis.url, prefix: "override", policy })
    const started = Date.now()
    const final = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const queue = yield* Enqueue
          const admin = yield* QueueAdmin
          const { messageId } = yield* queue.enqueue({
            sender: "alice@customer.example",
            recipients: ["bob@hasty.example"],
            body: Buffer.from(
              "From: alice@customer.example\r\nTo: bob@hasty.example\r\nSubject: urgent\r\nMessage-ID: <u1@customer.example>\r\n\r\nnow\r\n",
            ),
          })
          yield* eventually(
            Effect.sync(() => (good.recorder.messages().length >= 2 ? true : undefined)),
            60_000,
          )
          return yield* eventually(
            admin.show(messageId).pipe(Effect.map((v) => (v.bodyStored ? undefined : v))),
            30_000,
          )
        }).pipe(Effect.provide(layer)),
      ),
    )
    const elapsed = Date.now() - started
    const job = final.jobs[0]!
    expect(job.state).toBe("completed")
    // queued, +1 s, +2 s (the warning point), then every second to the expiry at +6 s
    expect(job.data.attemptCount).toBe(7)
    expect(job.data.attempts.map((a) => a.code)).toEqual(Array(7).fill("CERT_EXPIRED"))
    expect(elapsed).toBeGreaterThanOrEqual(6_000)

    const [delay, ndr] = good.recorder.messages()
    expect([delay!.mailFrom, ndr!.mailFrom]).toEqual(["", ""])
    expect(delay!.rcptTo).toEqual(["alice@customer.example"])
    const delayMail = await simpleParser(delay!.body!)
    const ndrMail = await simpleParser(ndr!.body!)
    expect(delayMail.subject).toBe("Zustellung verzögert / Delivery delayed")
    expect(ndrMail.subject).toBe("Unzustellbar / Undeliverable")
    expect(delayMail.text).toContain("CERT_EXPIRED (4.7.5)")
    expect(ndrMail.text).toContain("Das Zertifikat des Servers ist abgelaufen")
    expect(deliveryStatus(delay!.body!.toString())).toMatchObject({
      "Final-Recipient": "rfc822; bob@hasty.example",
      Action: "delayed",
      Status: "4.7.5",
      "Remote-MTA": `dns; ${expired.host}`,
    })
    const failed = deliveryStatus(ndr!.body!.toString())
    expect(failed).toMatchObject({
      Action: "failed",
      Status: "5.4.7",
      "Remote-MTA": `dns; ${expired.host}`,
    })
    expect(failed["Diagnostic-Code"]).toMatch(/^X-mailconnect; CERT_EXPIRED gave up after /)
    expect(ndr!.body!.toString()).toContain("Subject: urgent")
  }, 120_000)
})
