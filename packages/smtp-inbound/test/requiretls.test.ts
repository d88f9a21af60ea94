/**
 * REQUIRETLS (RFC 8689) at ingress, with a real client against real listeners and the real queue:
 * advertised and accepted only inside TLS, and carried into the job; `TLS-Required: No` sets
 * `tlsRequiredNo` unless REQUIRETLS was also given (§5).
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { QueueAdmin } from "@mailconnect/delivery-queue"
import { type CertificateAuthority, createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { partner, policyWith } from "@mailconnect/test-support"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory, formatUsersFile, hashPassword, hasTlsRequiredNo } from "../src"
import { type RunningIngress, send, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress
let root: CertificateAuthority

beforeAll(async () => {
  redis = await startRedis()
  root = await createRootCa({ commonName: "requiretls test root" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  const dir = mkdtempSync(join(tmpdir(), "mc-users-"))
  const usersFile = join(dir, "users")
  writeFileSync(
    usersFile,
    formatUsersFile([
      { name: "alice", hash: await hashPassword("correct horse"), domains: ["customer.example"] },
    ]),
  )
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "requiretls",
    policy: policyWith([partner("bank")]),
    config: testIngressConfig(
      relayCert,
      [
        { kind: "submission", host: "127.0.0.1", port: 0 },
        { kind: "mx", host: "127.0.0.1", port: 0 },
      ],
      fileUserDirectory(usersFile, () => undefined),
    ),
  })
})

afterAll(async () => {
  await ingress?.close()
  await redis?.stop()
})

/** Plaintext lines to a listener; every reply, until QUIT is answered. */
const plaintext = (port: number, lines: ReadonlyArray<string>) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    let received = ""
    let sent = 0
    socket.setEncoding("latin1")
    socket.on("error", reject)
    socket.on("close", () => resolve(received))
    socket.on("data", (chunk: string) => {
      received += chunk
      // A reply is complete with its last line (`250 …`, not `250-…`).
      if (!received.endsWith("\r\n") || !/^\d{3} /.test(received.split("\r\n").at(-2) ?? "")) return
      if (sent < lines.length) socket.write(`${lines[sent++]}\r\n`)
      else socket.end()
    })
  })

const submit = (options: { requireTls?: boolean; headers?: string }) =>
  send({
    port: ingress.port("submission"),
    ca: root.certPem,
    auth: { user: "alice", pass: "correct horse" },
    from: "alice@customer.example",
    to: ["bob@bank.example"],
    body: `From: alice@customer.example\r\nTo: bob@bank.example\r\n${options.headers ?? ""}Subject: t\r\n\r\nhello\r\n`,
    ...(options.requireTls ? { requireTls: true } : {}),
  })

const jobData = async (response: string) => {
  const id = /queued as (\S+)/.exec(response)?.[1] ?? ""
  const view = await ingress.run(Effect.flatMap(QueueAdmin, (q) => q.show(id)))
  return view.jobs[0]?.data
}

describe("REQUIRETLS at ingress", () => {
  it("is not advertised in plaintext, and MAIL FROM … REQUIRETLS is refused there", async () => {
    const transcript = await plaintext(ingress.port("mx"), [
      "EHLO client.example",
      "MAIL FROM:<carol@bank.example> REQUIRETLS",
      "QUIT",
    ])
    expect(transcript).toMatch(/^250[ -]STARTTLS/m)
    expect(transcript).not.toMatch(/^250[ -]REQUIRETLS/m)
    expect(transcript).toMatch(/^530 .*REQUIRETLS/m)
  })

  it("accepts REQUIRETLS inside TLS (the client sends it only when advertised) and carries it into the job", async () => {
    const result = await submit({ requireTls: true })
    expect(result.response).toMatch(/^250 2\.0\.0 /)
    expect(await jobData(result.response)).toMatchObject({ requireTls: true })
  })

  it("a message without REQUIRETLS carries neither flag", async () => {
    const data = await jobData((await submit({})).response)
    expect(data?.requireTls).toBeUndefined()
    expect(data?.tlsRequiredNo).toBeUndefined()
  })

  it("TLS-Required: No sets tlsRequiredNo", async () => {
    const result = await submit({ headers: "TLS-Required: No\r\n" })
    expect(await jobData(result.response)).toMatchObject({ tlsRequiredNo: true })
  })

  it("TLS-Required: No is ignored when REQUIRETLS is given", async () => {
    const result = await submit({ requireTls: true, headers: "TLS-Required: No\r\n" })
    const data = await jobData(result.response)
    expect(data).toMatchObject({ requireTls: true })
    expect(data?.tlsRequiredNo).toBeUndefined()
  })
})

describe("hasTlsRequiredNo", () => {
  const message = (header: string, body = "") => Buffer.from(`From: a@b.example\r\n${header}\r\n\r\n${body}`)
  it("reads the header section only, case-insensitively, unfolded", () => {
    expect(hasTlsRequiredNo(message("tls-required:  NO"))).toBe(true)
    expect(hasTlsRequiredNo(message("TLS-Required:\r\n No"))).toBe(true)
    expect(hasTlsRequiredNo(message("TLS-Required: Yes"))).toBe(false)
    expect(hasTlsRequiredNo(message("Subject: x", "TLS-Required: No\r\n"))).toBe(false)
  })

  it("ends the header section at the first empty line whatever the line ends, and never reads the body", () => {
    expect(hasTlsRequiredNo(Buffer.from("From: a@b.example\nTLS-Required: No\n\nbody\n"))).toBe(true)
    expect(hasTlsRequiredNo(Buffer.from("From: a@b.example\n\nTLS-Required: No\n"))).toBe(false)
    expect(hasTlsRequiredNo(Buffer.from("From: a@b.example\n\r\nTLS-Required: No\r\n"))).toBe(false)
    expect(hasTlsRequiredNo(Buffer.from("From: a@b.example\r\n\nTLS-Required: No\r\n"))).toBe(false)
    // A message without a body: all of it is header.
    expect(hasTlsRequiredNo(Buffer.from("From: a@b.example\r\nTLS-Required: No"))).toBe(true)
  })
})
