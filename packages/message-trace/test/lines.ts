/**
 * Delivery-log lines for the trace tests: a happy-path default of each kind, one field
 * overridden per test (the same shapes the relay writes, `@mailconnect/delivery-log`).
 */
import type { AttemptLine, DsnLine, SessionInLine } from "@mailconnect/delivery-log"

export const iso = (t: number) => new Date(t).toISOString()

export const sessionIn = (queueId: string, at: number, over: Partial<SessionInLine> = {}): SessionInLine => ({
  event: "session-in",
  at: iso(at),
  queueId,
  messageId: `${queueId}@customer.example`,
  listener: "submission",
  client: { address: "192.0.2.10", helo: "laptop.customer.example" },
  tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" },
  user: "alice",
  sender: "alice@customer.example",
  recipients: ["bob@bank.example"],
  size: 2048,
  ...over,
})

export const attempt = (queueId: string, at: number, over: Partial<AttemptLine> = {}): AttemptLine => ({
  event: "attempt",
  at: iso(at),
  queueId,
  messageId: `${queueId}@customer.example`,
  attempt: 1,
  sender: "alice@customer.example",
  domain: "bank.example",
  partner: "bank",
  source: "partner",
  result: "delivered",
  recipients: [
    { address: "bob@bank.example", outcome: "delivered", status: "2.0.0", reply: "250 2.0.0 Ok: queued" },
  ],
  server: "mx.bank.example:25",
  tls: {
    protocol: "TLSv1.3",
    cipher: "TLS_AES_256_GCM_SHA384",
    peer: {
      subject: "CN=mx.bank.example",
      issuer: "CN=Bank CA",
      subjectAltNames: ["DNS:mx.bank.example"],
      notAfter: "2027-01-01T00:00:00.000Z",
      spkiPin: "sha256/AAAA",
    },
    verification: { ok: true, findings: [], matchedName: "mx.bank.example" },
  },
  bundleSerial: 7,
  ...over,
})

export const deferred = (queueId: string, at: number, over: Partial<AttemptLine> = {}): AttemptLine =>
  attempt(queueId, at, {
    result: "deferred",
    code: "CERT_EXPIRED",
    recipients: [
      { address: "bob@bank.example", outcome: "deferred", status: "4.7.5", reply: "certificate expired" },
    ],
    nextAttemptAt: iso(at + 300_000),
    ...over,
  })

export const dsn = (queueId: string, at: number, over: Partial<DsnLine> = {}): DsnLine => ({
  event: "dsn",
  at: iso(at),
  queueId,
  dsnQueueId: `${queueId}.delay`,
  kind: "delay",
  to: "alice@customer.example",
  recipients: [{ address: "bob@bank.example", status: "4.7.5", code: "CERT_EXPIRED" }],
  ...over,
})
