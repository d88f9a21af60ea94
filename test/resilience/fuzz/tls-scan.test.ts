/**
 * A TLS scan (`sslscan`, Debian) of every listener of a relay started with default TLS settings:
 * implicit-TLS submissions, and STARTTLS on submission and MX. No protocol below TLS 1.2 may be
 * enabled and no weak cipher accepted; the summary is printed for the closing notes.
 */
import { freePort } from "@mailconnect/test-redis"
import { labPartner, policyOf, type Stack, startStack } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FaultRun, startFaultRun } from "../support/fault-run"
import { ensureSslscan, sslscan, WEAK_CIPHER } from "../support/sslscan"

let stack: Stack
let fault: FaultRun
let submissionsPort = 0

beforeAll(async () => {
  ensureSslscan()
  stack = await startStack(["good"])
  const good = stack.partners.scenario("good")
  submissionsPort = await freePort()
  fault = await startFaultRun(
    stack,
    "tlsscan",
    policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
    { env: { RELAY_SMTP_SUBMISSIONS_PORT: String(submissionsPort) } },
  )
}, 300_000)

afterAll(async () => {
  await fault?.stop()
  await stack?.stop()
})

const ports = () => ({ mx: fault.relay().mxPort, submission: fault.relay().submissionPort })

describe("TLS scan of the SMTP listeners", () => {
  it("a TLS scan of every listener: nothing below TLS 1.2, no weak cipher", async () => {
    const scans = await Promise.all([
      sslscan(submissionsPort, false),
      sslscan(ports().submission, true),
      sslscan(ports().mx, true),
    ])
    const summary = scans.map((s) => ({
      target: s.target,
      protocols: s.enabledProtocols,
      ciphers: s.ciphers.length,
      minBits: Math.min(...s.ciphers.map((c) => c.bits)),
      strengths: [...new Set(s.ciphers.map((c) => c.strength))],
    }))
    console.log(`TLS-SCAN ${JSON.stringify(summary)}`)
    for (const scan of scans) {
      expect(scan.enabledProtocols.length).toBeGreaterThan(0)
      expect(scan.enabledProtocols.filter((p) => !/^TLS1\.[23]$/i.test(p))).toEqual([])
      expect(scan.ciphers.length).toBeGreaterThan(0)
      expect(
        scan.ciphers.filter(
          (c) => WEAK_CIPHER.test(c.name) || c.bits < 128 || !/^TLSv1\.[23]$/.test(c.protocol),
        ),
      ).toEqual([])
      expect(
        scan.ciphers.filter((c) => c.strength !== "" && !["strong", "acceptable"].includes(c.strength)),
      ).toEqual([])
    }
  }, 240_000)
})
