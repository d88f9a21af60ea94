/**
 * The certificate watch end to end: deliveries through the queue and the real outbound adapter
 * to lab partners under enforced agreements — one whose certificate expires in 10 days, one that
 * comes back on the same address with a new key (as after an unannounced rotation) — recorded in a
 * real Redis; `partnerWatch` then says what is due: the expiry warning, the change with its
 * diagnosis and advice, and the attestation due date from the policy.
 */

import { DeliveryStats, partnerWatch } from "@mailconnect/delivery-queue"
import { type RunningSmtpServer, startSmtpLabServer } from "@mailconnect/partner-lab"
import type { PartnerTls } from "@mailconnect/policy"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { firstAttempt, outboundWorkerLayer, partner, policySet, uniquePrefix } from "./harness"

const DAY = 86_400_000
let redis: RedisServer
const servers: Array<RunningSmtpServer> = []
afterAll(async () => {
  for (const s of servers) await s.stop()
  await redis?.stop()
})

let root: Awaited<ReturnType<typeof createRootCa>>
beforeAll(async () => {
  redis = await startRedis()
  root = await createRootCa({ commonName: "watch lab root" })
})

const enforced = (name: string): PartnerTls => ({
  mode: "enforce",
  minVersion: "TLSv1.2",
  verify: {
    trust: "pkix",
    names: [name],
    pins: [],
    ca: { file: "watch-ca.pem", pem: root.certPem, sha256: "-", notAfter: "2099-01-01T00:00:00Z" },
  },
  review: { attestedOn: "2026-01-10", every: 365 * DAY, dueOn: "2027-01-10" },
})

const serve = async (name: string, cert: { chainPem: string; keyPem: string }, port?: number) => {
  const server = await startSmtpLabServer({
    name,
    cert: cert.chainPem,
    key: cert.keyPem,
    host: "127.0.0.1",
    ...(port === undefined ? {} : { port }),
  })
  servers.push(server)
  return server
}

describe("the certificate watch of enforced partners", () => {
  it("warns of a certificate expiring in 10 days and diagnoses a new key on the same server", async () => {
    const now = Date.now()
    const soonCert = await root.issueServer({
      names: ["smtp.soon.example"],
      notAfter: new Date(now + 10 * DAY),
    })
    const soon = await serve("soon", soonCert)
    const first = await serve("rekeyed-1", await root.issueServer({ names: ["smtp.rekeyed.example"] }))
    const policy = policySet([
      partner("soon", ["soon.example"], {
        tls: enforced("smtp.soon.example"),
        servers: [{ host: "127.0.0.1", port: soon.port }],
      }),
      partner("rekeyed", ["rekeyed.example"], {
        tls: enforced("smtp.rekeyed.example"),
        servers: [{ host: "127.0.0.1", port: first.port }],
      }),
    ])
    const options = { redisUrl: redis.url, prefix: uniquePrefix("watch"), policy }
    for (const to of ["bob@soon.example", "bob@rekeyed.example"])
      expect((await firstAttempt(options, to)).data.results).toMatchObject([{ outcome: "delivered" }])
    // The partner comes back on the same address with a new key from the same CA.
    await first.stop()
    const second = await serve(
      "rekeyed-2",
      await root.issueServer({ names: ["smtp.rekeyed.example"] }),
      first.port,
    )
    expect((await firstAttempt(options, "carol@rekeyed.example")).data.results).toMatchObject([
      { outcome: "delivered" },
    ])
    expect(second.recorder.messages()).toHaveLength(1)

    const watched = await Effect.runPromise(
      Effect.flatMap(DeliveryStats, (s) => s.certificates).pipe(
        Effect.scoped,
        Effect.provide(outboundWorkerLayer(options)),
      ),
    )
    const report = partnerWatch(policy, watched, Date.now())
    const byName = new Map(report.map((p) => [p.partner, p]))
    expect(byName.get("soon")).toMatchObject({
      attention: ["expires-soon"],
      certificates: [
        { server: `127.0.0.1:${soon.port}`, daysLeft: 9, certificate: { spkiPin: expect.any(String) } },
      ],
      review: { dueOn: "2027-01-10" },
    })
    expect(byName.get("rekeyed")).toMatchObject({
      attention: ["changed"],
      certificates: [
        {
          server: `127.0.0.1:${first.port}`,
          change: { kind: "new-key", previous: { subject: expect.stringContaining("smtp.rekeyed.example") } },
        },
      ],
    })
    const change = byName.get("rekeyed")!.certificates[0]!.change!
    expect(change.previous?.spkiPin).not.toBe(byName.get("rekeyed")!.certificates[0]!.certificate.spkiPin)
    expect(change.advice).toContain("pins")
  })
})
