/**
 * A relay restarted while Redis is down starts from its last-known-good copy on disk, becomes
 * ready on it, and picks up newer bundles once Redis is back.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import type { Lab, RelayProcess } from "@mailconnect/test-support"
import { cli, eventually, signed, startLab, startRelay } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let lab: Lab
const started: Array<RelayProcess> = []

beforeAll(async () => {
  lab = await startLab()
})
afterAll(async () => {
  await Promise.all(started.map((r) => r.stop("SIGKILL")))
  await lab?.stop()
})

describe("last-known-good bundle", { timeout: 180_000 }, () => {
  it("lets a relay restarted while Redis is down start on the last bundle it had", async () => {
    const stateDir = join(lab.dir, "state", "relay-lkg")
    mkdirSync(stateDir, { recursive: true })
    const first = await startRelay(lab, "relay-lkg", { stateDir })
    started.push(first)
    const published = await cli(lab, [
      "policy",
      "publish",
      "--bundle",
      lab.file("s3.bundle", signed(lab.signer, 3)),
    ])
    expect(published.code).toBe(0)
    await eventually(async () => (await first.activeSerial()) === 3, "serial 3 active")
    expect(await first.stop("SIGTERM")).toBe(0)

    await lab.redis.stop({ keepData: true })
    const second = await startRelay(lab, "relay-lkg", { stateDir, env: { RELAY_POLICY_START_TIMEOUT: "1s" } })
    started.push(second)
    await eventually(async () => (await second.ready())?.status === 200, "ready from the disk copy")
    const metrics = await second.metrics()
    expect(metrics.get("mc_policy_active_serial")).toBe(3)
    expect(metrics.get('mc_policy_activations_total{origin="last-known-good"}')).toBe(1)
    expect(metrics.get("mc_policy_fetch_failures_total") ?? 0).toBeGreaterThanOrEqual(1)

    // Redis comes back empty (no persistence in the test server); a new publish still arrives.
    await lab.redis.restart()
    const next = await cli(lab, [
      "policy",
      "publish",
      "--bundle",
      lab.file("s4.bundle", signed(lab.signer, 4)),
    ])
    expect(next.code).toBe(0)
    await eventually(async () => (await second.activeSerial()) === 4, "serial 4 after Redis returned")
    expect(await second.stop("SIGTERM")).toBe(0)
  })
})
