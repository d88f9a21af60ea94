/**
 * The failure model end to end: the real outbound adapter meets a server whose certificate does
 * not pass, and the job in a real Redis keeps the cause as data — the code, the structured reason
 * (the pin diagnosis with the pin to add, the names expected and presented) and the TLS evidence
 * of the attempt — while the job log renders the same fields. Nothing of it is read from text.
 */

import { type RunningSmtpServer, startSmtpLabServer } from "@mailconnect/partner-lab"
import type { PolicySet } from "@mailconnect/policy"
import { createRootCa, type IssuedCertificate } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { firstAttempt, partner, policySet, uniquePrefix } from "./harness"

let redis: RedisServer
let server: RunningSmtpServer
let presented: IssuedCertificate
let pinned: IssuedCertificate
let caPem: string
beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "failure evidence root" })
  caPem = root.certPem
  presented = await root.issueServer({ names: ["localhost", "127.0.0.1"] })
  pinned = await root.issueServer({ names: ["localhost", "127.0.0.1"] })
  server = await startSmtpLabServer({
    name: "evidence",
    cert: presented.chainPem,
    key: presented.keyPem,
    host: "127.0.0.1",
  })
})
afterAll(async () => {
  await server?.stop()
  await redis?.stop()
})

const embedded = (pem: string) => ({ file: "ca.pem", pem, sha256: "-", notAfter: "2099-01-01T00:00:00Z" })

const attempt = (policy: PolicySet, recipient: string) =>
  firstAttempt({ redisUrl: redis.url, prefix: uniquePrefix("evidence"), policy }, recipient)

const route = () => [{ host: "127.0.0.1", port: server.port }]

describe("a failed attempt's cause, as data in the job", () => {
  it("a pin mismatch (trusted chain, right name, new key) keeps its diagnosis and the pin that would admit the certificate", async () => {
    const policy = policySet([
      partner("pinned", ["pinned.example"], {
        servers: route(),
        tls: {
          mode: "enforce",
          minVersion: "TLSv1.2",
          verify: { trust: "pkix", names: [], pins: [pinned.pin], ca: embedded(caPem) },
        },
      }),
    ])
    const job = await attempt(policy, "bob@pinned.example")
    const failure = job.data.lastFailure!
    expect(failure.code).toBe("CERT_PIN_MISMATCH")
    expect(failure.reason).toEqual({
      _tag: "PinMismatch",
      observedPin: presented.pin,
      configuredPins: [pinned.pin],
      looksLike: "new-key-same-names-issuer",
      comparedWith: "policy",
      pinToAdd: presented.pin,
    })
    const tls = job.data.attempts.at(-1)!.tls
    expect(tls).toMatchObject({ peer: { spkiPin: presented.pin }, verification: { ok: false } })
    expect(job.log.at(-1)).toContain(
      `looks like new-key-same-names-issuer; if legitimate add pin ${presented.pin}`,
    )
    expect(server.recorder.mailFroms()).toEqual([])
  })

  it("a name mismatch keeps the names expected and the DNS names presented", async () => {
    const policy = policySet([
      partner("named", ["named.example"], {
        servers: route(),
        tls: {
          mode: "enforce",
          minVersion: "TLSv1.2",
          verify: { trust: "pkix", names: ["mx.named.example"], pins: [], ca: embedded(caPem) },
        },
      }),
    ])
    const job = await attempt(policy, "bob@named.example")
    expect(job.data.lastFailure).toMatchObject({
      code: "CERT_NAME_MISMATCH",
      reason: { _tag: "NameMismatch", expected: ["mx.named.example"], presented: ["localhost"] },
    })
    expect(server.recorder.mailFroms()).toEqual([])
  })
})
