/**
 * A policy fix closes the partner's open circuit breaker: repeated TLS failures (the partner
 * rotated its key, we pin the old one) open the breaker of its only server; publishing the new
 * pin promotes the waiting mail and it is delivered at once — not deferred again by the open
 * breaker until its (here: one hour) cooldown ends.
 */

import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { labPartner, policyOf, startStack, submit, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let stack: Stack
let relay: SmtpRelay

const policy = (pins: ReadonlyArray<string>) => {
  const good = stack.partners.scenario("good")
  return policyOf([labPartner(stack.partners, "rotated", "rotated-key", { pins: [...pins] })], {
    host: good.host,
    port: good.port,
  })
}

beforeAll(async () => {
  stack = await startStack(["rotated-key"])
  await stack.publish(policy([stack.partners.scenario("rotated-key").previousCertificate!.pin]), 1)
  relay = await stack.startRelay("relay-breaker", {
    RELAY_BREAKER_THRESHOLD: "2",
    RELAY_BREAKER_COOLDOWN: "1h",
  })
  await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  await relay?.stop("SIGKILL")
  await stack?.stop()
})

const deferred = async () =>
  (await relay.metrics()).get(
    'mc_deliveries_total{code="CERT_PIN_MISMATCH",partner="rotated",result="deferred"}',
  ) ?? 0

describe("circuit breaker and policy fixes", () => {
  it("delivers promoted mail at once after a fix, although the breaker was open", async () => {
    const rotated = stack.partners.scenario("rotated-key")
    const subjects = ["first", "second", "third"]
    for (const [i, subject] of subjects.entries()) {
      expect((await submit(relay, stack.relayCa, [`carol@rotated.example`], subject)).ok).toBe(true)
      await waitFor(`deferral of ${subject}`, async () => ((await deferred()) >= i + 1 ? true : undefined))
    }
    // Two failures opened the breaker: the third message was deferred without connecting.
    expect(rotated.recorder.connections).toHaveLength(2)
    expect(rotated.recorder.mailFroms()).toEqual([])

    await stack.publish(policy([rotated.previousCertificate!.pin, rotated.certificate.pin]), 2)
    // The next timeline point is 5 minutes away and the cooldown an hour: only the reset delivers now.
    const delivered = await waitFor(
      "delivery of all three after the fix",
      () => {
        const bodies = rotated.recorder.messages().map((m) => m.body?.toString() ?? "")
        return subjects.every((s) => bodies.some((b) => b.includes(`Subject: ${s}`))) ? bodies : undefined
      },
      60_000,
    )
    expect(delivered).toHaveLength(3)
    expect(await deferred()).toBe(3)
  }, 120_000)
})
