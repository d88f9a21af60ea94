/** Attempt TLS evidence in job data: a record rendered from its fields; old one-line summaries still decode. */
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Attempt, decodeJobData, renderTls, type TlsRecord, tlsProtocolLabel } from "../src"

const record: TlsRecord = {
  protocol: "TLSv1.3",
  cipher: "TLS_AES_256_GCM_SHA384",
  peer: {
    subject: "CN=mx.bank.example,O=Bank",
    issuer: "CN=Bank CA",
    subjectAltNames: ["mx.bank.example"],
    notAfter: "2027-01-01T00:00:00.000Z",
    spkiPin: "sha256/abc=",
  },
  verification: {
    ok: false,
    failure: "CERT_PIN_MISMATCH",
    findings: ["CERT_PIN_MISMATCH"],
    matchedName: "mx.bank.example",
  },
}

const decodeAttempt = Schema.decodeUnknownEither(Attempt)

describe("attempt TLS evidence", () => {
  it("keeps the record's fields through job data", () => {
    const attempt = { at: 1, serial: 1, delivered: 0, tls: record }
    expect(decodeAttempt(JSON.parse(JSON.stringify(attempt)))).toEqual(Either.right(attempt))
  })

  it("still decodes job data whose attempt kept a one-line summary", () => {
    const old = {
      at: 1,
      serial: 1,
      delivered: 1,
      tls: "TLSv1.3 TLS_AES_256_GCM_SHA384 peer=mx.bank.example verified",
    }
    const decoded = decodeAttempt(old)
    expect(decoded).toEqual(Either.right(old))
    expect(renderTls(Either.getOrThrow(decoded).tls!)).toBe(old.tls)
    const job = {
      v: 1,
      messageId: "m1",
      domain: "bank.example",
      sender: "a@customer.example",
      recipients: ["b@bank.example"],
      pending: [],
      queuedAt: 0,
      isDsn: false,
      warned: false,
      attemptCount: 1,
      attempts: [old],
      results: [],
    }
    expect(Either.isRight(decodeJobData(job))).toBe(true)
  })

  it("renders the log line's evidence and the metrics label from the fields", () => {
    expect(renderTls(record)).toBe(
      "TLSv1.3 TLS_AES_256_GCM_SHA384 peer=mx.bank.example notAfter=2027-01-01T00:00:00.000Z failed:CERT_PIN_MISMATCH pin=sha256/abc=",
    )
    expect(renderTls(null)).toBe("plaintext")
    expect(tlsProtocolLabel(record)).toBe("TLSv1.3")
    expect(tlsProtocolLabel(null)).toBe("plaintext")
  })
})
