/**
 * The delivery log of a relay process (RELAY_DELIVERY_LOG): a message followed from submission
 * to delivery — its session-in line and its attempt line, every field present — and a deferred
 * attempt to a partner whose certificate fails, with the TLS evidence that says why. No line
 * carries a password or message content.
 */
import { readFileSync } from "node:fs"
import type { AttemptLine, SessionInLine } from "@mailconnect/delivery-log"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { labPartner, PASSWORD, policyOf, startStack, submit, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let stack: Stack
let relay: SmtpRelay
let logFile: string

beforeAll(async () => {
  stack = await startStack(["good", "expired", "rcpt-5xx"])
  const good = stack.partners.scenario("good")
  await stack.publish(
    policyOf(
      [
        labPartner(stack.partners, "bank", "good"),
        labPartner(stack.partners, "lapsed", "expired"),
        labPartner(stack.partners, "refuser", "rcpt-5xx"),
      ],
      {
        host: good.host,
        port: good.port,
      },
    ),
    4,
  )
  logFile = stack.lab.file("delivery.log", "")
  relay = await stack.startRelay("relay-log", {
    RELAY_DELIVERY_LOG: `stdout,${logFile}`,
    RELAY_ID: "relay-log",
  })
  await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  await relay?.stop("SIGKILL")
  await stack?.stop()
})

type Line = (SessionInLine | AttemptLine) & { readonly relay: string }
const lines = (): ReadonlyArray<Line> =>
  readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Line)

describe("the delivery log", () => {
  it("follows a message from submission to delivery, every field present", async () => {
    const submitted = await submit(
      relay,
      stack.relayCa,
      ["bob@bank.example"],
      "logged",
      "logged-1@customer.example",
    )
    const queueId = submitted.queueId!
    const attempt = await waitFor("the attempt line", () =>
      lines().find(
        (l): l is AttemptLine & { relay: string } => l.event === "attempt" && l.queueId === queueId,
      ),
    )
    const sessionIn = lines().find((l) => l.event === "session-in" && l.queueId === queueId)
    expect(sessionIn).toEqual({
      event: "session-in",
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      relay: "relay-log",
      queueId,
      messageId: "logged-1@customer.example",
      listener: "submission",
      client: { address: "127.0.0.1", helo: expect.any(String) },
      tls: { protocol: expect.stringMatching(/^TLSv1\.[23]$/), cipher: expect.any(String) },
      user: "alice",
      sender: "alice@customer.example",
      recipients: ["bob@bank.example"],
      size: expect.any(Number),
    })
    const good = stack.partners.scenario("good")
    expect(attempt).toEqual({
      event: "attempt",
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      relay: "relay-log",
      queueId,
      messageId: "logged-1@customer.example",
      attempt: 1,
      sender: "alice@customer.example",
      domain: "bank.example",
      partner: "bank",
      source: "partner",
      result: "delivered",
      recipients: [
        {
          address: "bob@bank.example",
          outcome: "delivered",
          status: expect.stringMatching(/^2\./),
          reply: expect.stringMatching(/^250 /),
        },
      ],
      server: `${good.host}:${good.port}`,
      tls: {
        protocol: expect.stringMatching(/^TLSv1\.[23]$/),
        cipher: expect.any(String),
        peer: {
          subject: expect.any(String),
          issuer: expect.any(String),
          subjectAltNames: expect.any(Array),
          notAfter: expect.any(String),
          spkiPin: expect.stringMatching(/^sha256\//),
        },
        verification: { ok: true, findings: [], matchedName: expect.any(String) },
      },
      bundleSerial: 4,
    })
  })

  it("records a deferred attempt with the failure code and the certificate that caused it", async () => {
    const submitted = await submit(relay, stack.relayCa, ["bob@lapsed.example"], "lapsed")
    const attempt = await waitFor("the attempt line", () =>
      lines().find(
        (l): l is AttemptLine & { relay: string } => l.event === "attempt" && l.queueId === submitted.queueId,
      ),
    )
    expect(attempt).toMatchObject({
      partner: "lapsed",
      source: "partner",
      result: "deferred",
      code: "CERT_EXPIRED",
      recipients: [{ address: "bob@lapsed.example", outcome: "deferred" }],
      tls: {
        verification: {
          ok: false,
          failure: "CERT_EXPIRED",
          findings: expect.arrayContaining(["CERT_EXPIRED"]),
        },
      },
      nextAttemptAt: expect.stringMatching(/^\d{4}-/),
    })
    expect(attempt).not.toHaveProperty("messageId")
  })

  it("records a bounce and the NDR queued for it", async () => {
    const submitted = await submit(relay, stack.relayCa, ["bob@refuser.example"], "refused")
    const dsn = await waitFor("the dsn line", () =>
      readFileSync(logFile, "utf8")
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as { event: string; queueId: string })
        .find((l) => l.event === "dsn" && l.queueId === submitted.queueId),
    )
    expect(dsn).toEqual({
      event: "dsn",
      at: expect.stringMatching(/^\d{4}-/),
      relay: "relay-log",
      queueId: submitted.queueId,
      dsnQueueId: expect.any(String),
      kind: "failure",
      to: "alice@customer.example",
      recipients: [
        { address: "bob@refuser.example", status: expect.stringMatching(/^5\./), code: "SMTP_PERMANENT" },
      ],
    })
    expect(lines().find((l) => l.event === "attempt" && l.queueId === submitted.queueId)).toMatchObject({
      result: "bounced",
      recipients: [
        { address: "bob@refuser.example", outcome: "bounced", reply: expect.stringMatching(/^5\d\d /) },
      ],
    })
  })

  it("never writes the password or the message body", () => {
    const text = readFileSync(logFile, "utf8")
    expect(text.length).toBeGreaterThan(0)
    expect(text).not.toContain(PASSWORD)
    expect(text).not.toContain("x".repeat(100))
  })
})
