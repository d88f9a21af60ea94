/**
 * The message trace of a relay process (RELAY_TRACE, on by default): a message followed from
 * submission to delivery in the fleet's trace in Redis — its session-in and attempt lines, every
 * field present, the very lines the delivery log wrote — and a deferred one found by its failure
 * code with the certificate evidence. Then `mailconnect trace` as a real process against that
 * Redis: the table, `--json`, `--queue-id` with the TLS evidence, and a usage error (exit 2).
 */
import { readFileSync } from "node:fs"
import type { AttemptLine, SessionInLine } from "@mailconnect/delivery-log"
import { makeTraceIndex, type TraceRecord } from "@mailconnect/message-trace"
import { RedisClient } from "@mailconnect/redis-client"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { cli, labPartner, policyOf, startStack, submit, waitFor } from "@mailconnect/test-support"
import { Effect, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let stack: Stack
let relay: SmtpRelay
let logFile: string

beforeAll(async () => {
  stack = await startStack(["good", "expired"])
  const good = stack.partners.scenario("good")
  await stack.publish(
    policyOf([labPartner(stack.partners, "bank", "good"), labPartner(stack.partners, "lapsed", "expired")], {
      host: good.host,
      port: good.port,
    }),
    5,
  )
  logFile = stack.lab.file("delivery.log", "")
  // RELAY_TRACE is left unset: the trace is on by default.
  relay = await stack.startRelay("relay-trace", { RELAY_DELIVERY_LOG: logFile, RELAY_ID: "relay-trace" })
  await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  await relay?.stop("SIGKILL")
  await stack?.stop()
})

const show = (queueId: string) =>
  stack.lab.withRedis(
    Effect.flatMap(RedisClient, (redis) =>
      makeTraceIndex(redis, { relay: "test", retentionMs: 86_400_000 }).show(queueId),
    ).pipe(Effect.map(Option.getOrUndefined)),
  )

const logged = (queueId: string) =>
  readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { queueId: string })
    .filter((l) => l.queueId === queueId)

let delivered: string

describe("the message trace of a relay", () => {
  it("follows a message from submission to delivery, every field present, the delivery log's own lines", async () => {
    const submitted = await submit(
      relay,
      stack.relayCa,
      ["bob@bank.example"],
      "traced",
      "traced-1@customer.example",
    )
    delivered = submitted.queueId!
    const record = await waitFor("the delivered attempt in the trace", async () => {
      const r = await show(delivered)
      return r?.lines.some((l) => l.event === "attempt") ? r : undefined
    })
    const [sessionIn, attempt] = record.lines as readonly [
      SessionInLine & { relay: string },
      AttemptLine & { relay: string },
    ]
    expect(record.lines).toHaveLength(2)
    expect(sessionIn).toEqual({
      event: "session-in",
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      relay: "relay-trace",
      queueId: delivered,
      messageId: "traced-1@customer.example",
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
      relay: "relay-trace",
      queueId: delivered,
      messageId: "traced-1@customer.example",
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
      bundleSerial: 5,
    })
    expect(record.at).toBe(Date.parse(attempt.at))
    // A second consumer of the same lines: the trace holds exactly what the delivery log wrote.
    await waitFor("the log's lines", () => (logged(delivered).length === 2 ? true : undefined))
    expect(logged(delivered)).toEqual(record.lines)
  })

  it("finds a deferred message by its failure code, with the certificate that caused it", async () => {
    const submitted = await submit(relay, stack.relayCa, ["bob@lapsed.example"], "lapsed")
    const record: TraceRecord = await waitFor("the deferred attempt in the trace", async () => {
      const r = await show(submitted.queueId!)
      return r?.lines.some((l) => l.event === "attempt") ? r : undefined
    })
    expect(record.lines.find((l) => l.event === "attempt")).toMatchObject({
      partner: "lapsed",
      result: "deferred",
      code: "CERT_EXPIRED",
      tls: { verification: { ok: false, failure: "CERT_EXPIRED" } },
    })
    const found = await cli(stack.lab, ["trace", "--code", "CERT_EXPIRED", "--since", "1h", "--json"])
    expect(found.code).toBe(0)
    const { messages } = JSON.parse(found.stdout) as { messages: ReadonlyArray<{ queueId: string }> }
    expect(messages.map((m) => m.queueId)).toEqual([submitted.queueId])
  })

  it("mailconnect trace: a table by recipient and time, alone on stdout", async () => {
    const run = await cli(stack.lab, ["trace", "--to", "bob@bank.example", "--since", "2d"])
    expect(run.code).toBe(0)
    const [header, ...rows] = run.stdout.trimEnd().split("\n")
    expect(header!.split(/\s{2,}/)).toEqual([
      "TIME",
      "QUEUE-ID",
      "FROM",
      "TO",
      "STATUS",
      "CODE",
      "PARTNER",
      "TRIES",
      "MESSAGE-ID",
    ])
    expect(rows).toHaveLength(1)
    expect(rows[0]!.split(/\s{2,}/)).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      delivered,
      "alice@customer.example",
      "bob@bank.example",
      "delivered",
      "-",
      "bank",
      "1",
      "traced-1@customer.example",
    ])
  })

  it("mailconnect trace --json and --queue-id: the record as stored, and its lines with the TLS evidence", async () => {
    const [json, detail] = await Promise.all([
      cli(stack.lab, ["trace", "--message-id", "<traced-1@customer.example>", "--json"]),
      cli(stack.lab, ["trace", "--queue-id", delivered]),
    ])
    expect(json.code).toBe(0)
    const document = JSON.parse(json.stdout) as {
      messages: ReadonlyArray<{
        queueId: string
        recipients: ReadonlyArray<unknown>
        lines: ReadonlyArray<unknown>
      }>
      complete: boolean
    }
    expect(document.complete).toBe(true)
    expect(document.messages).toHaveLength(1)
    expect(document.messages[0]).toMatchObject({
      queueId: delivered,
      messageId: "traced-1@customer.example",
      sender: "alice@customer.example",
      recipients: [{ address: "bob@bank.example", status: "delivered", attempts: 1, partner: "bank" }],
    })
    expect(document.messages[0]!.lines).toEqual((await show(delivered))!.lines)
    expect(detail.code).toBe(0)
    expect(detail.stdout).toContain(`message ${delivered} <traced-1@customer.example>`)
    expect(detail.stdout).toMatch(/accepted on submission from 127\.0\.0\.1 .* user alice/)
    expect(detail.stdout).toMatch(
      /attempt 1 to bank\.example \(partner bank, source partner, bundle 5\): delivered via /,
    )
    expect(detail.stdout).toMatch(/tls: TLSv1\.[23] \S+; peer .*sha256\/.*; verified as /)
  })

  it("mailconnect trace: nothing found is no error; a bad time is a usage error (exit 2)", async () => {
    const [none, bad] = await Promise.all([
      cli(stack.lab, ["trace", "--to", "nobody@bank.example"]),
      cli(stack.lab, ["trace", "--since", "last tuesday"]),
    ])
    expect(none).toMatchObject({ code: 0, stdout: "no messages match\n" })
    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe("")
    expect(bad.stderr).toContain("--since: 'last tuesday' is neither a duration")
    expect(bad.stderr).toContain("usage:")
  })
})
