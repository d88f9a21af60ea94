/**
 * What TLS reporting counts of one delivery's evidence (`apps/relay › sessionsOf`): a session per
 * address connected, none for a reused connection or a failure that is not about TLS, the
 * policy-string of each standard and of a bilateral agreement, and the result types.
 */
import type { EffectivePolicy } from "@mailconnect/policy"
import { sessionsOf } from "@mailconnect/relay"
import type { AttemptEvidence, DeliveryError, TlsEvidence } from "@mailconnect/smtp-outbound"
import { partner, retry } from "@mailconnect/test-support"
import { describe, expect, it } from "vitest"

const AT = "2026-11-30T10:00:00.000Z"
const opportunistic: EffectivePolicy = {
  domain: "b.example",
  partner: undefined,
  tls: { mode: "opportunistic", minVersion: "TLSv1.2", verify: { trust: "pkix", names: [], pins: [] } },
  retry,
  servers: undefined,
}
const enforced = partner("bank", { domains: ["b.example"] })
const agreement: EffectivePolicy = { ...opportunistic, partner: enforced, tls: enforced.tls }

const tls = (verification?: {
  ok: boolean
  failure?: string
  findings?: ReadonlyArray<string>
}): TlsEvidence =>
  ({
    protocol: "TLSv1.3",
    cipher: "TLS_AES_256_GCM_SHA384",
    resumed: false,
    clientCertificate: undefined,
    peer: undefined,
    chain: [],
    verification: verification && { findings: [], ...verification },
  }) as unknown as TlsEvidence

const attempt = (overrides: Partial<AttemptEvidence>): AttemptEvidence => ({
  server: "mx.b.example:25",
  host: "mx.b.example",
  port: 25,
  address: "192.0.2.25",
  mode: "opportunistic",
  source: "none",
  startedAt: AT,
  bundleSerial: 7,
  tls: tls(),
  transcript: [],
  outcome: "ok",
  ...overrides,
})

let n = 0
const sessions = (
  attempts: ReadonlyArray<AttemptEvidence>,
  options: { policy?: EffectivePolicy; reusedLast?: boolean; error?: DeliveryError } = {},
) =>
  sessionsOf({
    domain: "B.example",
    policy: options.policy ?? opportunistic,
    attempts,
    reusedLast: options.reusedLast ?? false,
    error: options.error,
    now: Date.parse(AT),
    newId: () => `id${n++}`,
  }).map(({ id: _id, ...rest }) => rest)

const where = { "receiving-mx-hostname": "mx.b.example", "receiving-ip": "192.0.2.25" }

describe("sessions of a delivery", () => {
  it("one per address tried; a refused connection is no TLS session; a reused connection is not new", () => {
    const refused = attempt({ address: "192.0.2.26", tls: undefined, outcome: "CONNECT_REFUSED" })
    expect(sessions([refused, attempt({})])).toEqual([
      {
        domain: "b.example",
        at: Date.parse(AT),
        policy: { "policy-type": "no-policy-found", "policy-domain": "b.example", "mx-host": "mx.b.example" },
        failure: undefined,
      },
    ])
    expect(sessions([attempt({})], { reusedLast: true })).toEqual([])
  })

  it("no-policy-found: a certificate problem is no failure, plaintext is starttls-not-supported", () => {
    const selfSigned = attempt({ tls: tls({ ok: false, failure: "CERT_UNTRUSTED" }) })
    expect(sessions([selfSigned])[0]?.failure).toBeUndefined()
    expect(sessions([attempt({ tls: undefined })])[0]?.failure).toEqual({
      "result-type": "starttls-not-supported",
      ...where,
    })
  })

  it("DANE: the TLSA records as the policy-string, a mismatch as validation-failure", () => {
    const [session] = sessions([
      attempt({
        source: "dane",
        mode: "enforce",
        tlsa: ["3 1 1 abcd"],
        tls: undefined,
        outcome: "DANE_TLSA_MISMATCH",
      }),
    ])
    expect(session).toMatchObject({
      policy: {
        "policy-type": "tlsa",
        "policy-string": ["3 1 1 abcd"],
        "policy-domain": "b.example",
        "mx-host": "mx.b.example",
      },
      failure: { "result-type": "validation-failure", ...where, "failure-reason-code": "DANE_TLSA_MISMATCH" },
    })
  })

  it("MTA-STS testing: delivered, and the failed verification is reported", () => {
    const [session] = sessions([
      attempt({
        source: "mta-sts",
        mtaSts: { mode: "testing", id: "20261130", patterns: ["*.b.example"] },
        tls: tls({ ok: false, failure: "CERT_EXPIRED", findings: ["CERT_EXPIRED"] }),
      }),
    ])
    expect(session).toMatchObject({
      policy: {
        "policy-type": "sts",
        "policy-string": ["version: STSv1", "mode: testing", "mx: *.b.example"],
        "policy-domain": "b.example",
      },
      failure: { "result-type": "certificate-expired", ...where, "failure-reason-code": "CERT_EXPIRED" },
    })
  })

  it("a bilateral agreement: no-policy-found with our terms; STARTTLS stripped is starttls-not-supported", () => {
    const [session] = sessions(
      [attempt({ source: "partner", mode: "enforce", tls: undefined, outcome: "STARTTLS_NOT_OFFERED" })],
      {
        policy: agreement,
      },
    )
    expect(session).toMatchObject({
      policy: {
        "policy-type": "no-policy-found",
        "policy-string": [
          "policy: bilateral agreement",
          "mode: enforce",
          "min-version: TLSv1.2",
          "trust: pkix",
        ],
      },
      failure: { "result-type": "starttls-not-supported", "failure-reason-code": "STARTTLS_NOT_OFFERED" },
    })
  })

  it("before any session: a bogus DNSSEC answer is dnssec-invalid; a refusal by the SMTP server is not counted", () => {
    const bogus = {
      _tag: "DnssecBogus",
      code: "DNSSEC_BOGUS",
      type: "TLSA",
      name: "_25._tcp.mx.b.example",
    } as unknown as DeliveryError
    expect(sessions([], { error: bogus })).toEqual([
      {
        domain: "b.example",
        at: Date.parse(AT),
        policy: { "policy-type": "tlsa", "policy-domain": "b.example" },
        failure: {
          "result-type": "dnssec-invalid",
          "failure-reason-code": "DNSSEC_BOGUS TLSA _25._tcp.mx.b.example",
        },
      },
    ])
    const refusedMail = attempt({ outcome: "SMTP_TRANSIENT" })
    expect(sessions([refusedMail])[0]?.failure).toBeUndefined()
  })

  it("an announced MTA-STS policy that could not be had: sts, with why (webpki, invalid, fetch)", () => {
    const problem = (mtaStsProblem: NonNullable<AttemptEvidence["mtaStsProblem"]>) =>
      sessions([attempt({ mtaStsProblem })])[0]
    expect(
      problem({ reason: "fetch-failed", cause: { _tag: "MtaStsFetchFailed", form: "tls" } }),
    ).toMatchObject({
      policy: { "policy-type": "sts", "policy-domain": "b.example" },
      failure: {
        "result-type": "sts-webpki-invalid",
        ...where,
        "failure-reason-code": "fetch-failed MtaStsFetchFailed tls",
      },
    })
    expect(
      problem({ reason: "fetch-failed", cause: { _tag: "MtaStsPolicyInvalid", rule: "mode-missing" } })
        ?.failure,
    ).toMatchObject({
      "result-type": "sts-policy-invalid",
      "failure-reason-code": "fetch-failed MtaStsPolicyInvalid mode-missing",
    })
    expect(problem({ reason: "multiple-records" })?.failure).toMatchObject({
      "result-type": "sts-policy-invalid",
    })
    expect(problem({ reason: "fetch-backoff" })?.failure).toMatchObject({
      "result-type": "sts-policy-fetch-error",
    })
  })
})
