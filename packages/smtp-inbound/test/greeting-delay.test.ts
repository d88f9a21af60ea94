/**
 * The greeting delay (patches/smtp-server@3.21.6.patch): an inbound MX listener keeps a pause
 * before its 220 and drops a client that talks into it (421, as spamware that does not wait for
 * the greeting); a listener configured without a delay greets a waiting client normally.
 * Real listeners on loopback, a raw socket as the client.
 */
import { createConnection } from "node:net"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { customerDomains, policyWith } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory } from "../src"
import { type RunningIngress, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa({ commonName: "greeting delay root" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "greeting",
    policy: policyWith([], { localDomains: customerDomains }),
    config: testIngressConfig(
      relayCert,
      [
        { kind: "mx", host: "127.0.0.1", port: 0, greetingDelayMs: 400 },
        { kind: "submission", host: "127.0.0.1", port: 0, greetingDelayMs: 0 },
      ],
      fileUserDirectory(undefined, () => undefined),
    ),
  })
}, 60_000)

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

/** Connects, optionally writes at once, and collects what the server says until it closes or 2 s pass. */
const talk = (port: number, early: string | undefined) =>
  new Promise<string>((resolve) => {
    let said = ""
    const socket = createConnection({ host: "127.0.0.1", port }, () => {
      if (early) socket.write(early)
    })
    socket.on("data", (chunk) => {
      said += chunk.toString("latin1")
      if (!early && said.includes("\r\n")) socket.end("QUIT\r\n")
    })
    socket.on("error", () => undefined)
    socket.on("close", () => resolve(said))
    setTimeout(() => socket.destroy(), 2_000).unref()
  })

describe("greeting delay", () => {
  it("drops an early talker on inbound MX with 421", async () => {
    const said = await talk(ingress.port("mx"), "EHLO spam.example\r\n")
    expect(said).toMatch(/^421 .*You talk too soon/m)
    expect(said).not.toMatch(/^250/m)
  })

  it("greets a client that waits, on both listeners", async () => {
    expect(await talk(ingress.port("mx"), undefined)).toMatch(/^220 relay\.test/)
    expect(await talk(ingress.port("submission"), undefined)).toMatch(/^220 relay\.test/)
  })
})
