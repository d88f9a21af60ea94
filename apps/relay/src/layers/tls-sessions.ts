/**
 * What TLS reporting (RFC 8460) counts of one delivery: the outbound adapter's evidence as
 * sessions — one per address actually connected (a reused connection is not a new session) —
 * with the policy that applied (the hop's source: DANE → `tlsa`, MTA-STS → `sts`, a partner
 * agreement or nothing → `no-policy-found`, the agreement's terms in the policy-string) and the
 * result. A failure before any session that is a policy's own verdict (DNSSEC bogus, no MX in the
 * MTA-STS policy) counts as a failed session; a refused connection or an SMTP reply is not a TLS
 * result and is not counted. Pure: the binding records what this returns.
 */
import type { EffectivePolicy } from "@mailconnect/policy"
import type { AttemptEvidence, DeliveryError } from "@mailconnect/smtp-outbound"
import {
  type ReportPolicy,
  type ResultType,
  resultTypeOf,
  type SessionFailure,
  type TlsSession,
} from "@mailconnect/tlsrpt"

export interface DeliveryOutcome {
  readonly domain: string
  readonly policy: EffectivePolicy
  readonly attempts: ReadonlyArray<AttemptEvidence>
  /** The last attempt reused a cached session: not a new TLS session. */
  readonly reusedLast: boolean
  readonly error: DeliveryError | undefined
  /** Now, for failures that had no attempt. */
  readonly now: number
  readonly newId: () => string
}

const stsStrings = (mode: string, patterns: ReadonlyArray<string>) => [
  "version: STSv1",
  `mode: ${mode}`,
  ...patterns.map((p) => `mx: ${p}`),
]

/** Our side of a bilateral agreement, as the report's policy-string. */
const agreementStrings = (policy: EffectivePolicy): ReadonlyArray<string> => [
  "policy: bilateral agreement",
  `mode: ${policy.tls.mode}`,
  `min-version: ${policy.tls.minVersion}`,
  `trust: ${policy.tls.verify.trust}`,
  ...policy.tls.verify.names.map((n) => `name: ${n}`),
]

const policyOf = (domain: string, policy: EffectivePolicy, a: AttemptEvidence): ReportPolicy => {
  if (a.source === "dane")
    return {
      "policy-type": "tlsa",
      ...(a.tlsa ? { "policy-string": a.tlsa } : {}),
      "policy-domain": domain,
      "mx-host": a.host,
    }
  if (a.source === "mta-sts" && a.mtaSts)
    return {
      "policy-type": "sts",
      "policy-string": stsStrings(a.mtaSts.mode, a.mtaSts.patterns),
      "policy-domain": domain,
    }
  if (a.source === "partner")
    return {
      "policy-type": "no-policy-found",
      "policy-string": agreementStrings(policy),
      "policy-domain": domain,
      "mx-host": a.host,
    }
  return { "policy-type": "no-policy-found", "policy-domain": domain, "mx-host": a.host }
}

type Problem = NonNullable<AttemptEvidence["mtaStsProblem"]>

/**
 * An announced MTA-STS policy that could not be had (RFC 8460 §4.3.2): its host's certificate
 * failed (`sts-webpki-invalid`), the file or the TXT record broke the rules (`sts-policy-invalid`),
 * or it could not be fetched (`sts-policy-fetch-error`). The session went ahead as the policy
 * was written (usually opportunistic); the report says why MTA-STS did not apply.
 */
const stsProblemResult = (p: Problem): ResultType =>
  p.cause?._tag === "MtaStsFetchFailed" && p.cause.form === "tls"
    ? "sts-webpki-invalid"
    : p.cause?._tag === "MtaStsPolicyInvalid" ||
        p.reason === "invalid-record" ||
        p.reason === "multiple-records"
      ? "sts-policy-invalid"
      : "sts-policy-fetch-error"

const problemCode = (p: Problem) =>
  [p.reason, p.cause?._tag, p.cause?.form, p.cause?.rule].filter((part) => part !== undefined).join(" ")

/** Does the hop's policy ask for an authenticated peer (so a failed verification is a failure)? */
const authenticates = (a: AttemptEvidence) =>
  a.source === "dane" || a.source === "mta-sts" || (a.source === "partner" && a.mode !== "opportunistic")

/** undefined: success; "uncounted": no TLS result (refused, timed out, an SMTP refusal). */
const resultOf = (a: AttemptEvidence): SessionFailure | undefined | "uncounted" => {
  const where = { "receiving-mx-hostname": a.host, ...(a.address ? { "receiving-ip": a.address } : {}) }
  const verification = a.tls?.verification
  if (a.tls) {
    if (!authenticates(a) || !verification || verification.ok) return undefined
    const code = verification.failure ?? verification.findings[0]
    return {
      "result-type": (code && resultTypeOf(code)) || "validation-failure",
      ...where,
      ...(code ? { "failure-reason-code": code } : {}),
    }
  }
  // Delivered without TLS: only an opportunistic hop does that, after no (usable) STARTTLS.
  if (a.outcome === "ok") return { "result-type": "starttls-not-supported", ...where }
  const type = resultTypeOf(a.outcome)
  return type === undefined
    ? "uncounted"
    : { "result-type": type, ...where, "failure-reason-code": a.outcome }
}

/** A policy's verdict before any session, as one failed session. */
const planningFailure = (o: DeliveryOutcome): TlsSession | undefined => {
  const e = o.error
  if (e?._tag === "DnssecBogus")
    return {
      id: o.newId(),
      domain: o.domain,
      at: o.now,
      policy: { "policy-type": "tlsa", "policy-domain": o.domain },
      failure: { "result-type": "dnssec-invalid", "failure-reason-code": `${e.code} ${e.type} ${e.name}` },
    }
  if (e?._tag === "MtaStsMxMismatch")
    return {
      id: o.newId(),
      domain: o.domain,
      at: o.now,
      policy: {
        "policy-type": "sts",
        "policy-string": stsStrings("enforce", e.patterns),
        "policy-domain": o.domain,
      },
      failure: {
        "result-type": "validation-failure",
        ...(e.hosts[0] ? { "receiving-mx-hostname": e.hosts[0] } : {}),
        "failure-reason-code": e.code,
      },
    }
  return undefined
}

export const sessionsOf = (o: DeliveryOutcome): ReadonlyArray<TlsSession> => {
  const domain = o.domain.toLowerCase()
  if (o.attempts.length === 0) {
    const failure = planningFailure({ ...o, domain })
    return failure ? [failure] : []
  }
  return o.attempts.flatMap((a, i): ReadonlyArray<TlsSession> => {
    if (o.reusedLast && i === o.attempts.length - 1) return []
    const at = Date.parse(a.startedAt)
    if (a.mtaStsProblem) {
      // Whatever became of the session: under the sts policy it is a failure to get the policy.
      return [
        {
          id: o.newId(),
          domain,
          at,
          policy: { "policy-type": "sts", "policy-domain": domain },
          failure: {
            "result-type": stsProblemResult(a.mtaStsProblem),
            "receiving-mx-hostname": a.host,
            ...(a.address ? { "receiving-ip": a.address } : {}),
            "failure-reason-code": problemCode(a.mtaStsProblem),
          },
        },
      ]
    }
    const result = resultOf(a)
    if (result === "uncounted") return []
    return [{ id: o.newId(), domain, at, policy: policyOf(domain, o.policy, a), failure: result }]
  })
}
