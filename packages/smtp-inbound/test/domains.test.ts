/**
 * Domains at the SMTP edge: whatever spelling a client sends (full-width letters, an ideographic
 * full stop, upper case, Unicode or its A-label), the envelope is normalised once as it arrives,
 * and the queued job carries the A-label domain the policy holds — so delivery finds the partner.
 * Sent with a raw client: nodemailer would convert the domains itself.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { QueueAdmin, Spool } from "@mailconnect/delivery-queue"
import { makeLookup } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { type CertificateAuthority, createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { authPlain, partner, policyWith, rawSmtpOverTls } from "@mailconnect/test-support"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileUserDirectory, formatUsersFile, hashPassword } from "../src"
import { type RunningIngress, send, startTestIngress, testIngressConfig } from "./harness"

let redis: RedisServer
let ingress: RunningIngress
let root: CertificateAuthority

// The compiler stores A-labels; this policy is written as it would emit it.
const policy = policyWith([
  partner("bank", { inbound: { requireTls: true, requireClientCertificate: false } }),
  partner("mueller", { domains: ["xn--mller-bank-9db.de"] }),
])
const lookup = makeLookup(policy, buildIndex(policy))

beforeAll(async () => {
  redis = await startRedis()
  root = await createRootCa({ commonName: "relay test root" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  const dir = mkdtempSync(join(tmpdir(), "mc-users-"))
  const usersFile = join(dir, "users")
  writeFileSync(
    usersFile,
    formatUsersFile([
      // Listed in Unicode: the users file is an edge too.
      {
        name: "alice",
        hash: await hashPassword("correct horse"),
        domains: ["customer.example", "bücher.example"],
      },
    ]),
  )
  ingress = await startTestIngress({
    redisUrl: redis.url,
    prefix: "domains",
    policy,
    config: testIngressConfig(
      relayCert,
      [
        { kind: "submissions", host: "127.0.0.1", port: 0 },
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

const submit = (from: string, to: string) =>
  rawSmtpOverTls({
    port: ingress.port("submissions"),
    ca: root.certPem,
    commands: [
      "EHLO client.test",
      authPlain("alice", "correct horse"),
      `MAIL FROM:<${from}> SMTPUTF8`,
      `RCPT TO:<${to}>`,
      "DATA",
      `From: <alice@customer.example>\r\nSubject: idn\r\n\r\nhello\r\n.`,
      "QUIT",
    ],
  })

const queuedJobs = async (dataReply: string) => {
  const id = /queued as (\S+)/.exec(dataReply)?.[1]
  expect(id).toBeDefined()
  const view = await ingress.run(Effect.flatMap(QueueAdmin, (q) => q.show(id!)))
  return view.jobs.map((j) => j.data)
}

describe("envelope domains are normalised to A-labels at submission", () => {
  it.each([
    ["full-width letters", "info@ｂａｎｋ.example", "bank.example", "bank"],
    ["upper case", "info@BANK.example", "bank.example", "bank"],
    ["ideographic full stop", "info@bank。example", "bank.example", "bank"],
    ["a Unicode partner domain", "info@müller-bank.de", "xn--mller-bank-9db.de", "mueller"],
    ["that domain's A-label", "info@xn--mller-bank-9db.de", "xn--mller-bank-9db.de", "mueller"],
  ])("%s: %s is queued for %s, the partner delivery finds", async (_, recipient, domain, partnerName) => {
    const replies = await submit("alice@customer.example", recipient)
    const rcpt = replies.find((r) => r.command.startsWith("RCPT"))!
    expect(rcpt.text).toMatch(/^250 /)
    const data = replies.find((r) => r.command.startsWith("From:"))!
    expect(data.text).toMatch(/^250 2\.0\.0 Ok: queued as /)
    const jobs = await queuedJobs(data.text)
    expect(jobs).toHaveLength(1)
    expect(jobs[0]!.domain).toBe(domain)
    expect(jobs[0]!.recipients).toEqual([`info@${domain}`])
    expect(lookup.effective(jobs[0]!.domain).partner?.name).toBe(partnerName)
  })

  it("checks the sender against the user's domains in the same form (Unicode in the file, A-label on the wire)", async () => {
    const replies = await submit("alice@xn--bcher-kva.example", "info@bank.example")
    expect(replies.find((r) => r.command.startsWith("MAIL"))!.text).toMatch(/^250 /)
    const data = replies.find((r) => r.command.startsWith("From:"))!
    expect(data.text).toMatch(/^250 2\.0\.0 /)
    const id = /queued as (\S+)/.exec(data.text)![1]!
    const spooled = await ingress.run(Effect.flatMap(Spool, (q) => q.read(id)))
    expect(spooled._tag === "Some" && spooled.value.sender).toBe("alice@xn--bcher-kva.example")
  })

  it.each([
    ["an IPv6 literal", "u@[IPv6:2001:DB8::1]", "[IPv6:2001:db8::1]"],
    ["an IPv4 literal", "u@[192.0.2.1]", "[192.0.2.1]"],
  ])("queues a recipient at %s under its literal, in one spelling", async (_, recipient, domain) => {
    const replies = await submit("alice@customer.example", recipient)
    expect(replies.find((r) => r.command.startsWith("RCPT"))!.text).toMatch(/^250 /)
    const data = replies.find((r) => r.command.startsWith("From:"))!
    expect(data.text).toMatch(/^250 2\.0\.0 Ok: queued as /)
    const jobs = await queuedJobs(data.text)
    expect(jobs.map((j) => j.domain)).toEqual([domain])
    expect(lookup.effective(domain).partner).toBeUndefined()
  })

  it("refuses a domain that is no host name after IDNA processing with 553", async () => {
    const hyphen = await submit("alice@customer.example", "info@-bank.example")
    expect(hyphen.find((r) => r.command.startsWith("RCPT"))!.text).toMatch(
      /^553 5\.1\.3 Bad recipient address syntax: the domain of <info@-bank\.example> is not a valid host name/,
    )
    const longLabel = await submit("alice@customer.example", `info@${"a".repeat(64)}.example`)
    expect(longLabel.find((r) => r.command.startsWith("RCPT"))!.text).toMatch(/^553 5\.1\.3 /)
    const sender = await submit("alice@-customer.example", "info@bank.example")
    expect(sender.find((r) => r.command.startsWith("MAIL"))!.text).toMatch(
      /^553 5\.1\.7 Bad sender address syntax/,
    )
    expect(ingress.refused).toContain("bad-address")
  })
})

describe("envelope domains are normalised at the inbound MX", () => {
  it("finds the requireTls partner behind a full-width sender domain (530 over plaintext)", async () => {
    const result = await send({
      port: ingress.port("mx"),
      starttls: false,
      from: "ceo@ＢＡＮＫ.example",
      to: ["bob@customer.example"],
    })
    expect(result.response).toMatch(/^530 5\.7\.0 Must issue a STARTTLS command first: mail from bank/)
  })

  it("takes mail for a local domain however it is spelt, queued under its A-label", async () => {
    const result = await send({
      port: ingress.port("mx"),
      starttls: false,
      from: "news@xn--mller-bank-9db.de",
      to: ["bob@ＣＵＳＴＯＭＥＲ。example"],
    })
    expect(result.response).toMatch(/^250 2\.0\.0 /)
    const jobs = await queuedJobs(result.response)
    expect(jobs.map((j) => j.domain)).toEqual(["customer.example"])
  })
})
