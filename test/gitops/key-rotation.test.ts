/**
 * Signing-key rotation as one sequence, with the real CLI and a relay process: publish with key
 * A; add B to the relay's trust set (rolling restart); publish with B; retire A (restart with B
 * only). Then a bundle signed by A — an old key that leaked, with a higher serial — is refused by
 * `policy publish` and, written straight into Redis by someone holding A, by the relay, which
 * keeps running B's policy. No moment of the sequence leaves the relay without a policy.
 */

import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { Lab, RelayProcess } from "@mailconnect/test-support"
import { cli, makeSigner, publishSigned, startLab, startRelay, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ROOT } from "./support/policy-repo"

const POLICIES = join(ROOT, "policies")

let lab: Lab
let relay: RelayProcess | undefined
const keyB = makeSigner()
const files = { aKey: "", aPub: "", bKey: "", bPub: "" }

beforeAll(async () => {
  lab = await startLab()
  files.aKey = lab.file("a.key", lab.signer.privatePem)
  files.aPub = lab.trustedKeyFile
  files.bKey = lab.file("b.key", keyB.privatePem)
  files.bPub = lab.file("b.pub", keyB.publicPem)
}, 60_000)

afterAll(async () => {
  await relay?.stop("SIGKILL")
  await lab?.stop()
}, 60_000)

/** A relay trusting exactly these key files; the same state directory across restarts. */
const restartRelay = async (trusted: ReadonlyArray<string>) => {
  await relay?.stop()
  relay = await startRelay(lab, "relay-rotation", {
    stateDir: join(lab.dir, "state", "relay-rotation"),
    env: { MAILCONNECT_TRUSTED_KEYS: trusted.join(",") },
  })
  return relay
}

const compileAndPublish = async (key: string, serial: number, trusted: ReadonlyArray<string>) => {
  const out = join(lab.dir, `bundle-${serial}.json`)
  const compiled = await cli(lab, [
    "policy",
    "compile",
    "--dir",
    POLICIES,
    "--key",
    key,
    "--out",
    out,
    "--serial",
    String(serial),
  ])
  expect(compiled.code, compiled.stderr).toBe(0)
  return cli(lab, ["policy", "publish", "--bundle", out], { MAILCONNECT_TRUSTED_KEYS: trusted.join(",") })
}

const onSerial = (serial: number) =>
  waitFor(
    `the relay on serial ${serial}`,
    async () => ((await relay!.activeSerial()) === serial ? true : undefined),
    {
      timeoutMs: 30_000,
      output: () => relay!.output(),
    },
  )

describe("signing-key rotation", () => {
  it("A, then A+B, publish with B, retire A: A's bundles are refused and B's policy stays", async () => {
    await restartRelay([files.aPub])
    const first = await compileAndPublish(files.aKey, 100, [files.aPub])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain(`signed by ${lab.signer.keyId}`)
    await onSerial(100)

    // Step 2: trust both; the running policy (signed by A) survives the restart.
    await restartRelay([files.aPub, files.bPub])
    await onSerial(100)
    const second = await compileAndPublish(files.bKey, 101, [files.aPub, files.bPub])
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toContain(`signed by ${keyB.keyId}`)
    await onSerial(101)
    expect((await cli(lab, ["fleet", "status", "--expect-serial", "101"])).code).toBe(0)

    // Step 3: retire A. B's bundle in Redis is what the restarted relay loads.
    await restartRelay([files.bPub])
    await onSerial(101)
    expect(relay!.output()).toContain(keyB.keyId)

    // The old key, leaked: publish refuses it…
    const refused = await compileAndPublish(files.aKey, 102, [files.bPub])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      `signed by key ${lab.signer.keyId}, which MAILCONNECT_TRUSTED_KEYS does not list`,
    )
    // …and so does the relay when the holder of A writes it into Redis directly.
    const bytes = readFileSync(join(lab.dir, "bundle-102.json"), "utf8")
    await lab.withRedis(publishSigned(lab.signer, bytes))
    await waitFor(
      "the relay to refuse A's bundle",
      async () =>
        ((await relay!.metrics()).get('mc_policy_rejects_total{origin="redis",reason="BundleUnknownKey"}') ??
          0) >= 1
          ? true
          : undefined,
      { timeoutMs: 30_000, output: () => relay!.output() },
    )
    expect(await relay!.activeSerial()).toBe(101)
    expect((await relay!.ready())?.status).toBe(200)
  }, 150_000)
})
