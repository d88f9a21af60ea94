/**
 * The attacks of issue #12 against enforced TLS, each played by a lab server: pins smuggled into
 * the chain, pre-TLS refusals, names an attacker chooses through DNS, wildcard and CN tricks,
 * cause precedence. Every enforce failure asserts the exact code and that the server behind the
 * scenario — the attacker's — received no MAIL FROM and no message byte.
 */
import { type Lab, type ScenarioName, startLab } from "@mailconnect/partner-lab"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  clearRecorders,
  deliver,
  deliverTo,
  expectNothingReceived,
  failureOf,
  partnerTls,
  RETRY,
  reportOf,
  runtimeFor,
  withRuntime,
} from "./lab-harness"

let lab: Lab
let runtime: ReturnType<typeof runtimeFor>

beforeAll(async () => {
  lab = await startLab({
    scenarios: [
      "good",
      "pin-smuggled",
      "pin-smuggled-pkix",
      "greeting-5xx",
      "ehlo-5xx",
      "self-signed-expired",
      "partial-wildcard",
      "cn-only",
      "mtls-reply",
      "legacy-tls",
    ],
  })
  runtime = runtimeFor(lab, { maxMessagesPerConnection: 1 })
})
afterAll(async () => {
  await runtime?.dispose()
  await lab?.stop()
})
beforeEach(() => clearRecorders(lab))

const nothingReceived = (name: ScenarioName) => expectNothingReceived(lab, name)

describe("pins match the leaf, or a key on the path OpenSSL verified", () => {
  it("trust: pins — the pinned certificate appended behind the attacker's own leaf: CERT_PIN_MISMATCH", async () => {
    const scenario = lab.scenario("pin-smuggled")
    const genuine = scenario.previousCertificate!
    const error = failureOf(
      await deliver(runtime, lab, scenario, { verify: { trust: "pins", pins: [genuine.pin] } }),
    )
    expect(error).toMatchObject({ code: "CERT_PIN_MISMATCH", observedPin: scenario.certificate.pin })
    // The smuggled certificate was really sent, and is in the evidence as sent — but not trusted.
    expect(error.attempts[0]?.tls?.chain.map((c) => c.spkiPin)).toContain(genuine.pin)
    expect(error.attempts[0]?.tls?.verification?.matchedPin).toBeUndefined()
    nothingReceived("pin-smuggled")
  })

  it("pkix with pins — a valid chain for the name plus a forged CA certificate carrying the pin: CERT_PIN_MISMATCH", async () => {
    const scenario = lab.scenario("pin-smuggled-pkix")
    const genuine = scenario.previousCertificate!
    const error = failureOf(await deliver(runtime, lab, scenario, { verify: { pins: [genuine.pin] } }))
    expect(error).toMatchObject({ code: "CERT_PIN_MISMATCH", observedPin: scenario.certificate.pin })
    expect(error.attempts[0]?.tls?.verification).toMatchObject({ chain: "valid", matchedName: scenario.name })
    expect(error.attempts[0]?.tls?.chain.map((c) => c.spkiPin)).toContain(genuine.pin)
    nothingReceived("pin-smuggled-pkix")
  })

  it("a pin on the issuing CA's key counts for a certificate that CA signed", async () => {
    const report = reportOf(
      await deliver(runtime, lab, lab.scenario("good"), { verify: { pins: [lab.pki.issuer.pin] } }),
    )
    expect(report.attempts[0]?.tls?.verification).toMatchObject({ ok: true, matchedPin: lab.pki.issuer.pin })
  })

  it("trust: pins — a pin on the CA does not count (the leaf is the trust anchor)", async () => {
    const error = failureOf(
      await deliver(runtime, lab, lab.scenario("good"), {
        verify: { trust: "pins", pins: [lab.pki.issuer.pin] },
      }),
    )
    expect(error).toMatchObject({ code: "CERT_PIN_MISMATCH" })
    nothingReceived("good")
  })
})

describe("nothing before TLS is authenticated", () => {
  it("a 5xx greeting defers enforced mail (PRE_TLS_REFUSED), never bounces it", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("greeting-5xx")))
    expect(error).toMatchObject({
      code: "PRE_TLS_REFUSED",
      retry: "defer",
      status: "4.4.1",
      phase: "greeting",
      reply: { code: 554 },
    })
    nothingReceived("greeting-5xx")
  })

  it("after a 5xx greeting the next server is tried", async () => {
    const refusing = lab.scenario("greeting-5xx")
    const good = lab.scenario("good")
    const report = reportOf(
      await deliverTo(runtime, "partner.test", {
        domain: "partner.test",
        partner: undefined,
        tls: partnerTls(lab, { verify: { names: [good.name] } }),
        retry: RETRY,
        servers: [
          { host: refusing.name, port: refusing.port },
          { host: good.name, port: good.port },
        ],
      }),
    )
    expect(report.server).toBe(`${good.name}:${good.port}`)
    expect(report.attempts.map((a) => a.outcome)).toEqual(["PRE_TLS_REFUSED", "ok"])
    expect(good.recorder.messages()).toHaveLength(1)
  })

  it("a 502 to EHLO defers enforced mail; no HELO, nothing sent", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("ehlo-5xx")))
    expect(error).toMatchObject({
      code: "PRE_TLS_REFUSED",
      retry: "defer",
      phase: "ehlo",
      reply: { code: 502 },
    })
    expect(error.attempts[0]?.transcript.some((l) => l.line.startsWith("HELO"))).toBe(false)
    nothingReceived("ehlo-5xx")
  })

  it("opportunistic: a 502 to EHLO falls back to HELO in plaintext", async () => {
    const report = reportOf(await deliver(runtime, lab, lab.scenario("ehlo-5xx"), { mode: "opportunistic" }))
    expect(report.recipients[0]?.status).toBe("delivered")
    expect(report.attempts[0]?.transcript.some((l) => l.line.startsWith("HELO"))).toBe(true)
    expect(lab.scenario("ehlo-5xx").received[0]?.secure).toBe(false)
  })
})

describe("accepted names never come from unauthenticated DNS", () => {
  const byMx = (domain: string, exchange: string) => {
    lab.dns.set(domain, [{ type: "MX", preference: 10, exchange }])
    return {
      domain,
      partner: undefined,
      tls: partnerTls(lab),
      retry: RETRY,
      servers: undefined,
    }
  }

  it("an MX forged to point at another valid server: CERT_NAME_MISMATCH against the recipient domain", async () => {
    const good = lab.scenario("good")
    await withRuntime(lab, { mxPort: good.port }, async (mxRuntime) => {
      const error = failureOf(await deliverTo(mxRuntime, "bank.test", byMx("bank.test", good.name)))
      expect(error).toMatchObject({
        code: "CERT_NAME_MISMATCH",
        expected: ["bank.test", ".bank.test"],
        presented: [good.name],
      })
      nothingReceived("good")
    })
  })

  it("an MX host inside the recipient domain whose certificate names it: delivered", async () => {
    const good = lab.scenario("good")
    await withRuntime(lab, { mxPort: good.port }, async (mxRuntime) => {
      const report = reportOf(await deliverTo(mxRuntime, lab.domain, byMx(lab.domain, good.name)))
      expect(report.attempts[0]?.tls?.verification).toMatchObject({
        ok: true,
        expectedNames: [lab.domain, `.${lab.domain}`],
        matchedName: good.name,
      })
    })
  })
})

describe("a verified session serves only the names it was verified for", () => {
  it("a cached session for one domain is not reused for another domain whose MX points at the same host", async () => {
    const good = lab.scenario("good")
    const viaMx = (domain: string) => {
      lab.dns.set(domain, [{ type: "MX", preference: 10, exchange: good.name }])
      return { domain, partner: undefined, tls: partnerTls(lab), retry: RETRY, servers: undefined }
    }
    const reuse = { mxPort: good.port, maxMessagesPerConnection: 10, idleTimeoutMs: 30_000 }
    await withRuntime(lab, reuse, async (reuseRuntime) => {
      const first = reportOf(await deliverTo(reuseRuntime, lab.domain, viaMx(lab.domain)))
      expect(first.reusedConnection).toBe(false)
      const again = reportOf(await deliverTo(reuseRuntime, lab.domain, viaMx(lab.domain)))
      expect(again.reusedConnection).toBe(true)
      good.recorder.clear()
      const error = failureOf(await deliverTo(reuseRuntime, "bank.test", viaMx("bank.test")))
      expect(error).toMatchObject({ code: "CERT_NAME_MISMATCH", expected: ["bank.test", ".bank.test"] })
      nothingReceived("good")
    })
  })
})

describe("name matching (RFC 6125 / RFC 7817)", () => {
  it("a partial wildcard (goo*.lab.test style) does not match", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("partial-wildcard")))
    expect(error).toMatchObject({ code: "CERT_NAME_MISMATCH" })
    nothingReceived("partial-wildcard")
  })

  it("no fallback to the subject CN when the certificate has no DNS name", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("cn-only")))
    expect(error).toMatchObject({ code: "CERT_NAME_MISMATCH", presented: [] })
    nothingReceived("cn-only")
  })
})

describe("cause precedence", () => {
  it("self-signed and expired: CERT_UNTRUSTED, with the expiry among the findings", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("self-signed-expired")))
    expect(error).toMatchObject({ code: "CERT_UNTRUSTED", reason: "DEPTH_ZERO_SELF_SIGNED_CERT" })
    expect(error.attempts[0]?.tls?.verification).toMatchObject({
      failure: "CERT_UNTRUSTED",
      findings: ["CERT_UNTRUSTED", "CERT_EXPIRED"],
      expired: true,
    })
    nothingReceived("self-signed-expired")
  })
})

describe("client certificate and legacy TLS by agreement", () => {
  it("enforce with a client certificate presents it when the server asks", async () => {
    const report = reportOf(
      await deliver(runtime, lab, lab.scenario("mtls-reply"), {
        mode: "enforce",
        clientCertificate: "relay",
      }),
    )
    expect(report.attempts[0]?.tls?.clientCertificate).toBe("relay")
    expect(lab.scenario("mtls-reply").received[0]?.tls?.clientCertificate).toMatchObject({
      subject: "CN=relay",
    })
  })

  it("minVersion TLSv1.1 (acknowledged legacy) delivers without any cipher string from the operator", async () => {
    const report = reportOf(
      await deliver(runtime, lab, lab.scenario("legacy-tls"), { minVersion: "TLSv1.1" }),
    )
    expect(report.attempts[0]?.tls?.protocol).toBe("TLSv1.1")
  })

  it("the default floor still refuses the legacy server", async () => {
    const error = failureOf(await deliver(runtime, lab, lab.scenario("legacy-tls")))
    expect(error).toMatchObject({ code: "TLS_PROTOCOL_REJECTED" })
    nothingReceived("legacy-tls")
  })
})

describe("address literals", () => {
  it("[127.0.0.1] goes straight to that address: no DNS query, and an enforce policy checks the IP", async () => {
    const good = lab.scenario("good")
    await withRuntime(lab, { mxPort: good.port }, async (literalRuntime) => {
      const queriesBefore = lab.dns.queries.length
      const literal = { domain: "[127.0.0.1]", partner: undefined, retry: RETRY, servers: undefined }
      const report = reportOf(
        await deliverTo(literalRuntime, "[127.0.0.1]", {
          ...literal,
          tls: partnerTls(lab, { mode: "opportunistic" }),
        }),
      )
      expect(report.attempts[0]).toMatchObject({ server: `127.0.0.1:${good.port}`, address: "127.0.0.1" })
      expect(lab.dns.queries.length).toBe(queriesBefore)
      const error = failureOf(
        await deliverTo(literalRuntime, "[127.0.0.1]", { ...literal, tls: partnerTls(lab) }),
      )
      expect(error).toMatchObject({ code: "CERT_NAME_MISMATCH", expected: ["127.0.0.1"] })
    })
  })
})
