/**
 * Who authenticates each next hop, decided at delivery time (precedence, strongest first):
 *
 *  1. a bilateral partner policy with `enforce`/`mtls` — as written; DNS-based standards are not
 *     consulted (nor for route servers the policy names, nor for address literals);
 *  2. DANE (RFC 7672), per MX host, when its TLSA RRset validated (`secure-hops.ts`);
 *  3. MTA-STS (RFC 8461) `enforce` — MX hosts outside the policy are dropped; `testing` delivers
 *     as opportunistic and records the verification for reporting;
 *  4. the policy as it is: opportunistic (an opportunistic partner, or the defaults).
 *
 * `tls.dane: off` / `tls.mtaSts: off` in the policy, or a relay without the resolver or the
 * MTA-STS service (the fleet switches), skip a step. The result is data: the source and the TLS
 * policy each hop is held to, which the session, the evidence and the destination key use.
 */
import {
  type EffectivePolicy,
  isAddressLiteral,
  type PartnerTls,
  type TlsVersion,
  tlsVersionRank,
} from "@mailconnect/policy"
import type { TlsaRecord } from "@mailconnect/x509"
import { Effect } from "effect"
import { type DeliveryError, MtaStsMxMismatch } from "./errors"
import { type DnsLookup, DnsResolver, type NextHop, resolveNextHops } from "./next-hops"
import { resolveSecureHops } from "./secure-hops"
import type { StsCause, StsLookup, StsPolicy, TlsStandardsShape } from "./standards"

export type PolicySource = "partner" | "dane" | "mta-sts" | "none"

export interface HopAuthority {
  readonly source: PolicySource
  /** The TLS policy this hop is held to. */
  readonly tls: PartnerTls
  /** DANE: the host's validated TLSA records (possibly none usable: then encryption only). */
  readonly tlsa?: ReadonlyArray<TlsaRecord>
  /** MTA-STS: the policy's mode, id and MX patterns (the TLS report's policy-string). */
  readonly mtaSts?: {
    readonly mode: "enforce" | "testing"
    readonly id: string
    readonly patterns: ReadonlyArray<string>
  }
  /**
   * The domain announces MTA-STS (a TXT id) but no policy could be had — fetched, parsed or its
   * host's certificate verified — so the hop is held to the policy as written. Kept for TLS
   * reporting (`sts-policy-fetch-error`, `sts-policy-invalid`, `sts-webpki-invalid`).
   */
  readonly mtaStsProblem?: StsProblem
}

/** Why an announced MTA-STS policy is not in force: the service's reason and cause. */
export interface StsProblem {
  readonly reason: "fetch-failed" | "fetch-backoff" | "invalid-record" | "multiple-records"
  readonly cause?: StsCause
}

const PROBLEM_REASONS: ReadonlySet<string> = new Set([
  "fetch-failed",
  "fetch-backoff",
  "invalid-record",
  "multiple-records",
])

/** The policy in force and, when there is none although one was announced, why. */
const lookUpSts = (
  sts: StsLookup,
  domain: string,
): Effect.Effect<{ readonly policy: StsPolicy | undefined; readonly problem: StsProblem | undefined }> =>
  sts.describe
    ? Effect.map(sts.describe(domain), ({ policy, description }) => ({
        policy,
        problem:
          policy === undefined && description._tag === "NoPolicy" && PROBLEM_REASONS.has(description.reason)
            ? {
                reason: description.reason as StsProblem["reason"],
                ...(description.cause ? { cause: description.cause } : {}),
              }
            : undefined,
      }))
    : Effect.map(sts.policyFor(domain), (policy) => ({ policy, problem: undefined }))

export interface PlannedHop {
  readonly hop: NextHop
  readonly authority: HopAuthority
}

const MODERN: TlsVersion = "TLSv1.2"
const atLeastModern = (v: TlsVersion): TlsVersion =>
  tlsVersionRank(v) >= tlsVersionRank(MODERN) ? v : MODERN

/** Enforced TLS for a hop a standard authenticates; names (MTA-STS) or TLSA (DANE) decide. */
const standardTls = (base: PartnerTls, names: ReadonlyArray<string>, roots?: string): PartnerTls => ({
  mode: "enforce",
  minVersion: atLeastModern(base.minVersion),
  ...(base.ciphers === undefined ? {} : { ciphers: base.ciphers }),
  verify: {
    trust: "pkix",
    names,
    pins: [],
    ...(roots === undefined
      ? {}
      : { ca: { file: "RELAY_MTA_STS_CA", pem: roots, sha256: "", notAfter: "" } }),
  },
})

/** Why DNS-based standards are not consulted for this delivery at all. */
export type StandardsSkipped =
  | { readonly _tag: "PolicyEnforces"; readonly mode: "enforce" | "mtls" }
  | { readonly _tag: "NamedServers" }
  | { readonly _tag: "AddressLiteral" }

/** The one rule (planning and the probe): undefined when DANE and MTA-STS may apply. */
export const standardsSkipped = (policy: PlanPolicy): StandardsSkipped | undefined =>
  policy.tls.mode !== "opportunistic"
    ? { _tag: "PolicyEnforces", mode: policy.tls.mode }
    : policy.servers !== undefined && policy.servers.length > 0
      ? { _tag: "NamedServers" }
      : isAddressLiteral(policy.domain)
        ? { _tag: "AddressLiteral" }
        : undefined

const asWritten = (policy: PlanPolicy): HopAuthority => ({
  source: policy.partner ? "partner" : "none",
  tls: policy.tls,
})

/** What planning reads of the effective policy (the probe builds one without a retry policy). */
export type PlanPolicy = Pick<EffectivePolicy, "domain" | "tls" | "servers"> & {
  readonly partner: { readonly name: string } | undefined
}

export const planHops = (
  policy: PlanPolicy,
  dnsLookup: DnsLookup,
  standards: TlsStandardsShape,
  mxPort: number,
): Effect.Effect<ReadonlyArray<PlannedHop>, DeliveryError> =>
  Effect.gen(function* () {
    const plain = resolveNextHops(policy.domain, policy.servers, mxPort).pipe(
      Effect.provideService(DnsResolver, dnsLookup),
    )
    if (standardsSkipped(policy) !== undefined)
      return (yield* plain).map((hop) => ({ hop, authority: asWritten(policy) }))
    const dane = policy.tls.dane !== "off" ? standards.dns : undefined
    const sts = policy.tls.mtaSts !== "off" ? standards.mtaSts : undefined
    const [hops, answer] = yield* Effect.all(
      [
        dane
          ? resolveSecureHops(dane, policy.domain, mxPort).pipe(Effect.map((r) => r.hops))
          : plain.pipe(Effect.map((list) => list.map((hop) => ({ ...hop, tlsa: undefined })))),
        sts ? lookUpSts(sts, policy.domain) : Effect.succeed(undefined),
      ],
      { concurrency: 2 },
    )
    const stsPolicy: StsPolicy | undefined = answer?.policy
    const stsProblem = answer?.problem
    const planned: Array<PlannedHop> = []
    for (const { tlsa, ...hop } of hops) {
      if (tlsa !== undefined) {
        planned.push({ hop, authority: { source: "dane", tls: standardTls(policy.tls, []), tlsa } })
        continue
      }
      if (stsPolicy?.mode === "enforce") {
        if (!stsPolicy.allows(hop.host)) continue
        planned.push({
          hop,
          authority: {
            source: "mta-sts",
            tls: standardTls(policy.tls, [hop.host], sts?.roots),
            mtaSts: { mode: "enforce", id: stsPolicy.id, patterns: stsPolicy.patterns },
          },
        })
        continue
      }
      if (stsPolicy?.mode === "testing") {
        // Delivered as before; the verification against the MX name is recorded for reporting.
        planned.push({
          hop,
          authority: {
            source: "mta-sts",
            tls: {
              ...policy.tls,
              verify: {
                ...standardTls(policy.tls, [hop.host], sts?.roots).verify,
              },
            },
            mtaSts: { mode: "testing", id: stsPolicy.id, patterns: stsPolicy.patterns },
          },
        })
        continue
      }
      planned.push({
        hop,
        authority: stsProblem ? { ...asWritten(policy), mtaStsProblem: stsProblem } : asWritten(policy),
      })
    }
    if (planned.length === 0 && stsPolicy)
      return yield* new MtaStsMxMismatch({
        server: policy.domain,
        phase: "dns",
        detail: `MTA-STS policy ${stsPolicy.id} allows ${stsPolicy.patterns.join(", ")}; DNS gave ${hops.map((h) => h.host).join(", ")}`,
        attempts: [],
        policyId: stsPolicy.id,
        patterns: stsPolicy.patterns,
        hosts: hops.map((h) => h.host),
      })
    return planned
  })
