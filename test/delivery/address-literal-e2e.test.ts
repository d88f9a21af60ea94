/**
 * Address-literal recipients end to end: `user@[IPv6:::1]` and `user@[127.0.0.1]` queued in a
 * real Redis under colon-free job ids, delivered by the real outbound adapter straight to the
 * address (no MX lookup) — a real SMTP server listening on ::1 and one on 127.0.0.1 — with the
 * fleet's opportunistic default, since a literal is no partner's domain.
 */

import { Enqueue, parseJobId, QueueAdmin } from "@mailconnect/delivery-queue"
import { type RunningSmtpServer, startSmtpLabServer } from "@mailconnect/partner-lab"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually, outboundWorkerLayer, partner, policySet, uniquePrefix } from "./harness"

let redis: RedisServer
let v6: RunningSmtpServer
let v4: RunningSmtpServer
beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "literal test root" })
  const cert = await root.issueServer({ names: ["localhost", "::1", "127.0.0.1"] })
  v6 = await startSmtpLabServer({ name: "literal-v6", cert: cert.chainPem, key: cert.keyPem, host: "::1" })
  v4 = await startSmtpLabServer({
    name: "literal-v4",
    cert: cert.chainPem,
    key: cert.keyPem,
    host: "127.0.0.1",
  })
})
afterAll(async () => {
  await v6?.stop()
  await v4?.stop()
  await redis?.stop()
})

// A partner whose pattern would match the literal's digits if it were looked up as a domain.
const policy = policySet([partner("numeric", ["*.1", "*.0.0.1"])])

const deliver = (recipient: string, server: RunningSmtpServer) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const queue = yield* Enqueue
      const admin = yield* QueueAdmin
      const { messageId, jobIds } = yield* queue.enqueue({
        sender: "alice@customer.example",
        recipients: [recipient],
        body: Buffer.from(`From: alice@customer.example\r\nSubject: literal ${recipient}\r\n\r\nhello\r\n`),
      })
      const view = yield* eventually(
        admin
          .show(messageId)
          .pipe(
            Effect.map((v) =>
              v.jobs.every((j) => j.state === "completed") && !v.bodyStored ? v : undefined,
            ),
          ),
      )
      return { messageId, jobIds, view }
    }).pipe(
      Effect.scoped,
      Effect.provide(
        outboundWorkerLayer({
          redisUrl: redis.url,
          prefix: uniquePrefix("literal"),
          policy,
          mxPort: server.port,
        }),
      ),
    ),
  )

describe("address-literal recipients end to end", () => {
  it.each([
    ["a@[IPv6:::1]", "[IPv6:::1]", () => v6],
    ["b@[127.0.0.1]", "[127.0.0.1]", () => v4],
  ])("delivers %s straight to the address", async (recipient, domain, server) => {
    const { messageId, jobIds, view } = await deliver(recipient, server())
    expect(jobIds).toHaveLength(1)
    expect(jobIds[0]).not.toContain(":")
    expect(parseJobId(jobIds[0]!)).toEqual({ messageId, domain })
    const job = view.jobs[0]!
    expect(job.data.results).toMatchObject([{ recipient, outcome: "delivered" }])
    expect(job.data.attempts[0]!.server).toContain(domain === "[IPv6:::1]" ? "::1" : "127.0.0.1")
    const received = server().recorder.messages()
    expect(received.map((m) => m.rcptTo)).toEqual([[recipient]])
    expect(received[0]!.body?.toString()).toContain(`Subject: literal ${recipient}`)
  })
})
