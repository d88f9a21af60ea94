/**
 * DANE and MTA-STS through a relay process, as operators run it: mail submitted over STARTTLS +
 * AUTH, the relay resolving through a real validating resolver (unbound in front of knot, zones
 * signed at test time) named by `RELAY_DNS_SERVERS`, the MTA-STS policy fetched over HTTPS from a
 * lab policy host and cached in the fleet's Redis, delivered to a real SMTP server. None of the
 * domains has a partner file.
 */
import { X509Certificate } from "node:crypto"
import {
  type MtaStsHost,
  type RunningSmtpServer,
  startMtaStsHost,
  startSmtpLabServer,
} from "@mailconnect/partner-lab"
import { RedisClient } from "@mailconnect/redis-client"
import { type DnssecLab, startDnssecLab } from "@mailconnect/test-dnssec"
import { createRootCa } from "@mailconnect/test-pki"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { policyOf, startStack, submit, waitFor } from "@mailconnect/test-support"
import { tlsaAssociation } from "@mailconnect/x509"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let stack: Stack
let relay: SmtpRelay
let dns: DnssecLab
let sts: MtaStsHost
let server: RunningSmtpServer
const STS_ID = "20261202T000000"

beforeAll(async () => {
  stack = await startStack(["good"])
  const root = await createRootCa({ commonName: "standards relay root" })
  const cert = await root.issueServer({ names: ["mx.dane.example", "mx.sts.example", "mx.wrongkey.example"] })
  const other = await root.issueServer({ names: ["mx.wrongkey.example"] })
  server = await startSmtpLabServer({
    name: "standards",
    cert: cert.chainPem,
    key: cert.keyPem,
    host: "127.0.0.1",
  })
  sts = await startMtaStsHost()
  await sts.publish("sts.example", { id: STS_ID, policy: { mode: "enforce", mx: ["mx.sts.example"] } })
  const tlsa = (pem: string) => ({
    name: `_${server.port}._tcp.mx`,
    type: "TLSA" as const,
    usage: 3,
    selector: 1,
    matchingType: 1,
    data: tlsaAssociation(new X509Certificate(pem), 1, 1).toString("hex"),
  })
  const mx = (zone: string) => [
    { name: "@", type: "MX" as const, preference: 10, exchange: `mx.${zone}.` },
    { name: "mx", type: "A" as const, address: "127.0.0.1" },
  ]
  dns = await startDnssecLab({
    zones: [
      { name: "dane.example", signing: "signed", records: [...mx("dane.example"), tlsa(cert.certPem)] },
      {
        name: "wrongkey.example",
        signing: "signed",
        records: [...mx("wrongkey.example"), tlsa(other.certPem)],
      },
      {
        name: "sts.example",
        signing: "unsigned",
        records: [
          ...mx("sts.example"),
          { name: "_mta-sts", type: "TXT", text: `v=STSv1; id=${STS_ID};` },
          { name: "mta-sts", type: "A", address: "127.0.0.1" },
        ],
      },
    ],
  })
  const good = stack.partners.scenario("good")
  await stack.publish(policyOf([], { host: good.host, port: good.port }), 1)
  relay = await stack.startRelay("standards-relay", {
    RELAY_DNS_SERVERS: dns.resolver.server,
    RELAY_MX_PORT: String(server.port),
    RELAY_MTA_STS_CA: stack.lab.file("mta-sts-ca.pem", `${sts.ca}\n${root.certPem}`),
    RELAY_MTA_STS_PORT: String(sts.port),
  })
  await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  await relay?.stop("SIGKILL")
  await server?.stop()
  await sts?.stop()
  await dns?.stop()
  await stack?.stop()
})

const received = (recipient: string) => server.recorder.messages().filter((m) => m.rcptTo.includes(recipient))

const sourceCount = async (source: string, result: string) =>
  (await relay.metrics()).get(
    `mc_outbound_policy_source_total{policy_source="${source}",result="${result}"}`,
  ) ?? 0

describe("a relay authenticates domains without a partner file", () => {
  it("delivers submitted mail to a DANE domain over TLS its TLSA record authenticates", async () => {
    await submit(relay, stack.relayCa, ["bob@dane.example"], "dane through the relay")
    const message = await waitFor("delivery to dane.example", () => received("bob@dane.example")[0], 30_000)
    expect(message.body?.toString()).toContain("Subject: dane through the relay")
    await waitFor("dane metric", async () => ((await sourceCount("dane", "ok")) >= 1 ? true : undefined))
  })

  it("keeps mail for a DANE domain whose server presents another key, sending nothing", async () => {
    const mailFromsBefore = server.recorder.mailFroms().length
    await submit(relay, stack.relayCa, ["bob@wrongkey.example"], "dane mismatch through the relay")
    await waitFor("the refusal", async () =>
      (await sourceCount("dane", "DANE_TLSA_MISMATCH")) >= 1 ? true : undefined,
    )
    expect(received("bob@wrongkey.example")).toEqual([])
    expect(server.recorder.mailFroms()).toHaveLength(mailFromsBefore)
  })

  it("delivers to an MTA-STS enforce domain after fetching its policy once for the fleet", async () => {
    await submit(relay, stack.relayCa, ["bob@sts.example"], "mta-sts through the relay")
    await waitFor("delivery to sts.example", () => received("bob@sts.example")[0], 30_000)
    await waitFor("mta-sts metric", async () =>
      (await sourceCount("mta-sts", "ok")) >= 1 ? true : undefined,
    )
    expect(sts.requests("sts.example")).toBe(1)
    const cached = await stack.lab.withRedis(
      Effect.flatMap(RedisClient, (redis) => redis.get(redis.keys.key("mta-sts:sts.example"))),
    )
    expect(cached._tag).toBe("Some")
  })
})
