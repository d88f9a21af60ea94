/**
 * `mailconnect partners report` as operators run it: the example policies (their agreements,
 * contacts and attestation dates) and the fleet's certificate watch in a real Redis, seeded the
 * way the workers write it (`DeliveryStats.record`): a bank server whose certificate expires in
 * 10 days and changed key yesterday. The report names what is due and whom to write to.
 */
import { DeliveryStats, makeDeliveryStats, makeLayout, QueueLayout } from "@mailconnect/delivery-queue"
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { redisLayer } from "@mailconnect/test-support"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mailconnect, ROOT } from "./policy-cli"

const PREFIX = "partners-report"
const DAY = 86_400_000
let redis: RedisServer

beforeAll(async () => {
  redis = await startRedis()
  const now = Date.now()
  const peer = (pin: string) => ({
    subject: "CN=smtp-in.bank.example",
    issuer: "CN=Bank Example CA",
    notAfter: new Date(now + 10 * DAY + 3_600_000).toISOString(),
    spkiPin: pin,
  })
  const seen = (pin: string, at: number) =>
    Effect.flatMap(RedisClient, (client) =>
      makeDeliveryStats(client, makeLayout(PREFIX, 1)).record(
        {
          partner: "bank",
          domain: "bank.example",
          source: "partner",
          at,
          delivered: 1,
          deferred: 0,
          bounced: 0,
          code: undefined,
          server: "smtp-in.bank.example:25",
          tls: "TLSv1.3",
          peer: peer(pin),
        },
        0,
      ),
    )
  await Effect.runPromise(
    Effect.all([seen("sha256/OLD", now - 2 * DAY), seen("sha256/NEW", now - DAY)], { concurrency: 1 }).pipe(
      Effect.scoped,
      Effect.provide(redisLayer(redis.url, PREFIX)),
    ),
  )
  // Sanity: the watch holds what the report will read.
  const watched = await Effect.runPromise(
    Effect.flatMap(DeliveryStats, (s) => s.certificates).pipe(
      Effect.provide(DeliveryStats.layer.pipe(Layer.provide(QueueLayout.layer))),
      Effect.scoped,
      Effect.provide(redisLayer(redis.url, PREFIX)),
    ),
  )
  expect(watched).toHaveLength(1)
}, 60_000)
afterAll(() => redis?.stop())

const env = () => ({ REDIS_URL: redis.url, REDIS_PREFIX: PREFIX })

describe("mailconnect partners report", () => {
  it("prints what is due per enforced partner: the expiring, changed certificate and the contacts", async () => {
    const run = await mailconnect(["partners", "report", "--dir", `${ROOT}policies`], env())
    expect(run.code).toBe(0)
    const bank = run.stdout.split("\n\n").find((block) => block.startsWith("bank "))
    expect(bank).toBeDefined()
    // (The attestation, due 2027-11-28, joins the list a month before; the policies are examples.)
    expect(bank!.split("\n")[0]).toMatch(/^bank \(enforce\) {2}ATTENTION: .*expires-soon, changed/)
    expect(bank).toContain("smtp-in.bank.example:25: expires ")
    expect(bank).toContain("(10 days), issuer CN=Bank Example CA, pin sha256/NEW")
    expect(bank).toMatch(/changed \d{4}-\d\d-\d\d: a new key: pins on the old key no longer match/)
    expect(bank).toContain("attestation due 2027-11-28")
    expect(bank).toContain(
      "agreement AGR-2026-007, confirmed by Acme Example GmbH, ticket CS-4520 on 2026-06-15",
    )
    expect(bank).toContain("contact: Bank Example Messaging Team <messaging@bank.example>")
    // Partners without a sighting say so; opportunistic ones are not listed.
    expect(run.stdout).toMatch(/^insurer \(enforce\)/m)
    expect(run.stdout).not.toMatch(/^newsletter /m)
  })

  it("gives the same as JSON", async () => {
    const run = await mailconnect(["partners", "report", "--dir", `${ROOT}policies`, "--json"], env())
    expect(run.code).toBe(0)
    const report = JSON.parse(run.stdout) as Array<{ partner: string; attention: Array<string> }>
    expect(report.find((p) => p.partner === "bank")).toMatchObject({
      attention: expect.arrayContaining(["expires-soon", "changed"]),
      certificates: [{ daysLeft: 10, change: { kind: "new-key", previous: { spkiPin: "sha256/OLD" } } }],
      contacts: [{ email: "messaging@bank.example" }],
    })
  })
})
