/**
 * One end-to-end delivery per partner-lab scenario: real smtp-server instances on loopback,
 * certificates minted at test time, the exact failure code asserted — and for every failing
 * enforce/mtls case, that the server received no MAIL FROM and no message byte.
 */
import { type Lab, type ScenarioName, startLab } from "@mailconnect/partner-lab"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  clearRecorders,
  deliver,
  expectNothingReceived,
  failureOf,
  reportOf,
  runtimeFor,
  withRuntime,
} from "./lab-harness"

let lab: Lab
let runtime: ReturnType<typeof runtimeFor>

beforeAll(async () => {
  lab = await startLab({ slowGreetingMs: 3_000 })
  runtime = runtimeFor(lab, { maxMessagesPerConnection: 1 })
})
afterAll(async () => {
  await runtime.dispose()
  await lab.stop()
})
beforeEach(() => clearRecorders(lab))

const nothingReceived = (name: ScenarioName) => expectNothingReceived(lab, name)

describe("enforce: a verified session or nothing", () => {
  it("good: delivers over TLS with evidence", async () => {
    const report = reportOf(await deliver(runtime, lab, lab.scenario("good")))
    expect(report.recipients).toMatchObject([{ recipient: "someone@partner.test", status: "delivered" }])
    const attempt = report.attempts[0]!
    expect(attempt.bundleSerial).toBe(42)
    expect(attempt.address).toBe("127.0.0.1")
    expect(attempt.tls?.protocol).toBe("TLSv1.3")
    expect(attempt.tls?.verification).toMatchObject({
      ok: true,
      chain: "valid",
      matchedName: "good.lab.test",
    })
    expect(attempt.tls?.peer?.spkiPin).toBe(lab.scenario("good").certificate.pin)
    expect(attempt.tls?.peer?.subjectAltNames).toEqual(["good.lab.test"])
    expect(attempt.transcript.some((l) => l.line.startsWith("MAIL FROM:<sender@customer.test>"))).toBe(true)
    const received = lab.scenario("good").recorder.messages()
    expect(received).toHaveLength(1)
    expect(received[0]?.mailFrom).toBe("sender@customer.test")
    expect(received[0]?.body?.toString()).toContain("Subject: lab")
    expect(lab.scenario("good").received[0]?.ehlo).toBe("relay.mailconnect.test")
    expect(lab.scenario("good").received[0]?.secure).toBe(true)
  })

  it("no-starttls: STARTTLS_NOT_OFFERED, deferred, nothing sent", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("no-starttls")))
    expect(error).toMatchObject({
      code: "STARTTLS_NOT_OFFERED",
      retry: "defer",
      status: "4.7.4",
      form: "not-advertised",
    })
    expect(error.attempts).toHaveLength(1)
    nothingReceived("no-starttls")
  })

  it("starttls-stripped by a man in the middle: STARTTLS_NOT_OFFERED, nothing sent", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("starttls-stripped")))
    expect(error).toMatchObject({ code: "STARTTLS_NOT_OFFERED", form: "not-advertised" })
    nothingReceived("starttls-stripped")
  })

  it("legacy-tls (TLS 1.0/1.1 only): TLS_PROTOCOL_REJECTED", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("legacy-tls")))
    expect(error).toMatchObject({ code: "TLS_PROTOCOL_REJECTED", status: "4.7.5", minVersion: "TLSv1.2" })
    nothingReceived("legacy-tls")
  })

  it("no-shared-cipher: TLS_HANDSHAKE_FAILED", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("no-shared-cipher")))
    expect(error).toMatchObject({ code: "TLS_HANDSHAKE_FAILED", phase: "tls" })
    nothingReceived("no-shared-cipher")
  })

  it("self-signed: CERT_UNTRUSTED", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("self-signed")))
    expect(error).toMatchObject({
      code: "CERT_UNTRUSTED",
      reason: "DEPTH_ZERO_SELF_SIGNED_CERT",
      anchor: "partner-ca",
    })
    expect(error.attempts[0]?.tls?.peer?.spkiPin).toBe(lab.scenario("self-signed").certificate.pin)
    nothingReceived("self-signed")
  })

  it("expired: CERT_EXPIRED", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("expired")))
    expect(error).toMatchObject({ code: "CERT_EXPIRED", form: "expired" })
    expect(error.attempts[0]?.tls?.verification?.expired).toBe(true)
    nothingReceived("expired")
  })

  it("wrong-name: CERT_NAME_MISMATCH", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("wrong-name")))
    expect(error).toMatchObject({
      code: "CERT_NAME_MISMATCH",
      expected: ["wrong-name.lab.test"],
      presented: ["mail.elsewhere.test"],
    })
    nothingReceived("wrong-name")
  })

  it("rotated-key: CERT_PIN_MISMATCH diagnosed as the partner's rotation, with the pin to add", async () => {
    const scenario = lab.scenario("rotated-key")
    const error = failureOf(
      await deliver(runtime, lab, scenario, { verify: { pins: [scenario.previousCertificate!.pin] } }),
    )
    expect(error).toMatchObject({
      code: "CERT_PIN_MISMATCH",
      observedPin: scenario.certificate.pin,
      diagnosis: {
        kind: "new-key-same-names-issuer",
        comparedWith: "policy",
        pinToAdd: scenario.certificate.pin,
      },
    })
    nothingReceived("rotated-key")
  })

  it("closed-port: CONNECT_REFUSED", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("closed-port")))
    expect(error).toMatchObject({ code: "CONNECT_REFUSED", status: "4.4.1", phase: "connect" })
  })

  it("drop-after-starttls: TLS_HANDSHAKE_FAILED", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("drop-after-starttls")))
    expect(error).toMatchObject({ code: "TLS_HANDSHAKE_FAILED", phase: "tls" })
    nothingReceived("drop-after-starttls")
  })

  it("slow: CONNECT_TIMEOUT while waiting for the greeting", async () => {
    await withRuntime(
      lab,
      {
        timeouts: { connectMs: 1_000, greetingMs: 300, commandMs: 1_000, tlsMs: 1_000, dataMs: 1_000 },
      },
      async (slowRuntime) => {
        const error = failureOf(await deliver(slowRuntime, lab, lab.scenario("slow")))
        expect(error).toMatchObject({ code: "CONNECT_TIMEOUT", phase: "greeting", retry: "defer" })
        nothingReceived("slow")
      },
    )
  })
})

describe("per-recipient results", () => {
  it("rcpt-4xx: SMTP_TRANSIENT for the recipient, as received", async () => {
    const report = reportOf(await deliver(runtime, lab, lab.scenario("rcpt-4xx")))
    expect(report.recipients).toMatchObject([
      {
        status: "deferred",
        error: { code: "SMTP_TRANSIENT", retry: "defer", status: "4.7.1", reply: { code: 451 } },
      },
    ])
    expect(lab.scenario("rcpt-4xx").recorder.bodyBytes()).toBe(0)
  })

  it("rcpt-5xx: SMTP_PERMANENT for the recipient, bounce now", async () => {
    const report = reportOf(await deliver(runtime, lab, lab.scenario("rcpt-5xx")))
    expect(report.recipients).toMatchObject([
      { status: "bounced", error: { code: "SMTP_PERMANENT", retry: "bounce", status: "5.1.1" } },
    ])
  })

  it("rcpt-mixed: one result per recipient, the body sent once", async () => {
    const report = reportOf(
      await deliver(runtime, lab, lab.scenario("rcpt-mixed"), {}, [
        "alice@partner.test",
        "defer-bob@partner.test",
        "reject-carol@partner.test",
        "dave@partner.test",
      ]),
    )
    expect(report.recipients.map((r) => [r.recipient, r.status])).toEqual([
      ["alice@partner.test", "delivered"],
      ["defer-bob@partner.test", "deferred"],
      ["reject-carol@partner.test", "bounced"],
      ["dave@partner.test", "delivered"],
    ])
    const received = lab.scenario("rcpt-mixed").recorder.messages()
    expect(received).toHaveLength(1)
    expect(received[0]?.rcptTo).toEqual(["alice@partner.test", "dave@partner.test"])
  })
})

describe("mtls: our client certificate", () => {
  for (const scenario of ["mtls-alert", "mtls-reply"] as const) {
    it(`${scenario}: accepts ours`, async () => {
      const report = reportOf(
        await deliver(runtime, lab, lab.scenario(scenario), { mode: "mtls", clientCertificate: "relay" }),
      )
      expect(report.recipients[0]?.status).toBe("delivered")
      expect(report.attempts[0]?.tls?.clientCertificate).toBe("relay")
      expect(lab.scenario(scenario).received[0]?.tls?.clientCertificate).toMatchObject({
        subject: "CN=relay",
      })
    })

    it(`${scenario}: rejects another with CLIENT_CERT_REJECTED`, async () => {
      const error = failureOf(
        await deliver(runtime, lab, lab.scenario(scenario), { mode: "mtls", clientCertificate: "stranger" }),
      )
      expect(error).toMatchObject({
        code: "CLIENT_CERT_REJECTED",
        status: "4.7.5",
        // A Node server cannot alert on an untrusted certificate: it drops the session instead.
        form: scenario === "mtls-alert" ? "closed" : "reply",
        certificateName: "stranger",
      })
      nothingReceived(scenario)
    })

    it(`${scenario}: rejects a session without a client certificate`, async () => {
      const error = failureOf(await deliver(runtime, lab, lab.scenario(scenario)))
      expect(error).toMatchObject({
        code: "CLIENT_CERT_REJECTED",
        form: scenario === "mtls-alert" ? "alert" : "reply",
      })
      if (scenario === "mtls-reply") expect(error.detail).toContain("No client certificate presented")
      nothingReceived(scenario)
    })
  }

  it("an mtls policy naming a certificate this relay does not have: CLIENT_CERT_REJECTED, unavailable", async () => {
    const error = failureOf(
      await deliver(runtime, lab, lab.scenario("mtls-alert"), { mode: "mtls", clientCertificate: "missing" }),
    )
    expect(error).toMatchObject({ code: "CLIENT_CERT_REJECTED", form: "unavailable", retry: "defer" })
    nothingReceived("mtls-alert")
  })
})

describe("policy variations", () => {
  it("opportunistic: no STARTTLS offered → plaintext delivery", async () => {
    const report = reportOf(
      await deliver(runtime, lab, lab.scenario("no-starttls"), { mode: "opportunistic" }),
    )
    expect(report.recipients[0]?.status).toBe("delivered")
    expect(report.attempts[0]?.tls).toBeUndefined()
    expect(lab.scenario("no-starttls").received[0]?.secure).toBe(false)
  })

  it("opportunistic: a failed handshake falls back to plaintext", async () => {
    const report = reportOf(
      await deliver(runtime, lab, lab.scenario("no-shared-cipher"), { mode: "opportunistic" }),
    )
    expect(report.recipients[0]?.status).toBe("delivered")
    expect(lab.scenario("no-shared-cipher").recorder.messages()).toHaveLength(1)
  })

  it("opportunistic: an unverifiable certificate still encrypts, and the evidence says so", async () => {
    const report = reportOf(
      await deliver(runtime, lab, lab.scenario("self-signed"), { mode: "opportunistic" }),
    )
    expect(report.attempts[0]?.tls?.verification).toMatchObject({ ok: false, failure: "CERT_UNTRUSTED" })
    expect(lab.scenario("self-signed").received[0]?.secure).toBe(true)
  })

  it("trust: pins admits a self-signed certificate by its pin alone", async () => {
    const scenario = lab.scenario("self-signed")
    const report = reportOf(
      await deliver(runtime, lab, scenario, { verify: { trust: "pins", pins: [scenario.certificate.pin] } }),
    )
    expect(report.attempts[0]?.tls?.verification).toMatchObject({ ok: true, chain: "not-consulted" })
  })

  it("trust: pins reports expiry without refusing", async () => {
    const scenario = lab.scenario("expired")
    const report = reportOf(
      await deliver(runtime, lab, scenario, { verify: { trust: "pins", pins: [scenario.certificate.pin] } }),
    )
    expect(report.attempts[0]?.tls?.verification).toMatchObject({ ok: true, expired: true })
  })

  it("legacy TLS acknowledged (minVersion TLSv1, SECLEVEL=0) delivers over TLS 1.1", async () => {
    const report = reportOf(
      await deliver(runtime, lab, lab.scenario("legacy-tls"), {
        minVersion: "TLSv1",
        ciphers: "DEFAULT:@SECLEVEL=0",
      }),
    )
    expect(report.attempts[0]?.tls?.protocol).toBe("TLSv1.1")
  })

  it("rotated-key: both pins during the rotation deliver", async () => {
    const scenario = lab.scenario("rotated-key")
    const pins = [scenario.previousCertificate!.pin, scenario.certificate.pin]
    const report = reportOf(await deliver(runtime, lab, scenario, { verify: { pins } }))
    expect(report.attempts[0]?.tls?.verification?.matchedPin).toBe(scenario.certificate.pin)
  })

  it("an explicit accepted name replaces the host name", async () => {
    const error = failureOf(
      await deliver(runtime, lab, lab.scenario("good"), { verify: { names: ["other.test"] } }),
    )
    expect(error).toMatchObject({ code: "CERT_NAME_MISMATCH", expected: ["other.test"] })
    nothingReceived("good")
  })

  it("public roots do not vouch for the lab's private CA", async () => {
    const scenario = lab.scenario("good")
    const policyTls = { verify: { ca: undefined } } as never
    const error = failureOf(await deliver(runtime, lab, scenario, policyTls))
    expect(error).toMatchObject({ code: "CERT_UNTRUSTED", anchor: "public-roots" })
    nothingReceived("good")
  })
})
