/**
 * Customer connectors end to end: a relay process with its inbound MX listener, a signed bundle in
 * Redis naming a connector, nodemailer as the customer's server bound to a source address in
 * 127.0.0.0/8, and the partner lab's enforcing server as the destination. The connector's network
 * relays to the partner (delivered over verified TLS); a stranger's address on the same port is
 * refused and nothing reaches the partner; a new bundle moves the connector to another network
 * without a restart.
 */
import type { PolicySet } from "@mailconnect/policy"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { eventually, labPartner, policyOf, startStack, waitFor } from "@mailconnect/test-support"
import nodemailer from "nodemailer"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let stack: Stack
let relay: SmtpRelay

const policy = (network: string): PolicySet => {
  const good = stack.partners.scenario("good")
  return {
    ...policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
    connectors: {
      office: { name: "office", networks: [network], senderDomains: ["customer.example"], requireTls: true },
    },
  }
}

/** The customer's server: STARTTLS verified against the relay's CA, from `localAddress`. */
const relayFrom = async (localAddress: string, subject: string) => {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: relay.mxPort,
    localAddress,
    requireTLS: true,
    tls: { servername: "relay.test", ca: stack.relayCa },
    connectionTimeout: 10_000,
  })
  try {
    const info = await transport.sendMail({
      envelope: { from: "alice@customer.example", to: ["bob@bank.example"] },
      raw: `From: alice@customer.example\r\nTo: bob@bank.example\r\nSubject: ${subject}\r\n\r\nhello\r\n`,
    })
    return info.response
  } catch (e) {
    return (e as { response?: string; message: string }).response ?? (e as Error).message
  } finally {
    transport.close()
  }
}

const delivered = (subject: string) =>
  stack.partners
    .scenario("good")
    .recorder.messages()
    .find((m) => m.body?.toString().includes(`Subject: ${subject}`))

beforeAll(async () => {
  stack = await startStack(["good"])
  await stack.publish(policy("127.0.0.2/32"), 1)
  relay = await stack.startRelay("relay-connectors")
  await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  await relay?.stop("SIGTERM")
  await stack?.stop()
})

describe("customer connectors through a relay process", { timeout: 120_000 }, () => {
  it("relays for the connector's network and never for a stranger on the same port", async () => {
    expect(await relayFrom("127.0.0.3", "from a stranger")).toMatch(/^554 5\.7\.1 Relay access denied/)
    expect(await relayFrom("127.0.0.2", "from the office")).toMatch(/^250 2\.0\.0 Ok: queued as /)
    const message = await waitFor("delivery to the partner", () => delivered("from the office"))
    expect(message.mailFrom).toBe("alice@customer.example")
    expect(message.rcptTo).toEqual(["bob@bank.example"])
    expect(delivered("from a stranger")).toBeUndefined()
    const metrics = await relay.metrics()
    expect(metrics.get('mc_smtp_refused_total{listener="mx",reason="relay-denied"}')).toBe(1)
    expect(metrics.get('mc_smtp_accepted_total{listener="mx"}')).toBe(1)
  })

  it("follows a new bundle: the connector moved to 127.0.0.3 relays from there and no longer from 127.0.0.2", async () => {
    await stack.publish(policy("127.0.0.3/32"), 2)
    await eventually(async () => (await relay.activeSerial()) === 2, "serial 2 active")
    expect(await relayFrom("127.0.0.2", "old office")).toMatch(/^554 5\.7\.1 Relay access denied/)
    expect(await relayFrom("127.0.0.3", "new office")).toMatch(/^250 2\.0\.0 /)
    await waitFor("delivery from the new network", () => delivered("new office"))
    expect(delivered("old office")).toBeUndefined()
  })
})
