/**
 * `probe`: every address of every next hop, connected and verified exactly as delivery would,
 * then QUIT — no MAIL FROM, no message. Operators run it before merging a policy change. Beside
 * the verdicts it reports who authenticates each hop and why (`ProbeAuthority`): the TLSA records
 * of a DANE host, and the domain's MTA-STS policy with its cache state as the service answered.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import type { PartnerTls, StandardSwitch } from "@mailconnect/policy"
import { isUsableTlsa } from "@mailconnect/x509"
import { Clock, Effect, Either } from "effect"
import {
  type HopAuthority,
  type PlanPolicy,
  type PolicySource,
  planHops,
  type StandardsSkipped,
  standardsSkipped,
} from "./authority"
import type { DeliveryError } from "./errors"
import type { AttemptEvidence, CertificateEvidence, TranscriptLine } from "./evidence"
import type { DnsLookup } from "./next-hops"
import type { OutboundSettings } from "./options"
import { type ClientCertificate, openSession, type SessionFailure } from "./session"
import {
  type StsDescription,
  type StsLookup,
  type StsPolicy,
  type TlsStandardsShape,
  tlsaOwner,
} from "./standards"
import { quitSession } from "./transaction"
import { acceptedNames } from "./verify"

export type ProbeTarget = { readonly domain: string } | { readonly host: string; readonly port: number }

export interface ProbeRequest {
  readonly target: ProbeTarget
  readonly tls: PartnerTls
  readonly bundleSerial?: number
  /** Route servers from the policy (for a domain target); absent: DNS MX. */
  readonly servers?: ReadonlyArray<{ readonly host: string; readonly port: number }>
  /** The partner whose policy `tls` is (absent: the defaults). */
  readonly partner?: string
}

export interface ProbeFailure {
  readonly code: FailureCode
  readonly tag: string
  readonly phase: string
  readonly detail: string
  /** The fields particular to the cause (diagnosis, expected names, form, …). */
  readonly facts: Readonly<Record<string, unknown>>
}

/**
 * Why a standard did not authenticate a hop: `off-in-policy` (`tls.dane` / `tls.mtaSts: off`),
 * `not-bound` (this process runs without it: `RELAY_DANE=off` or no `RELAY_DNS_SERVERS`,
 * `RELAY_MTA_STS=off`), `none-found` (no validated TLSA records for the host; no MTA-STS policy
 * in force for the domain — the report's `mtaSts` says why).
 */
export type StandardAbsence = "off-in-policy" | "not-bound" | "none-found"

/** Why a hop is held to the policy it is: what `planHops` went by, as data. */
export type SourceReason =
  /** The policy enforces, names the servers (or the probe's `host:port`), or the domain is a literal: no DNS standard is consulted. */
  | StandardsSkipped
  /** The host's TLSA RRset at `owner` validated (DNSSEC). */
  | { readonly _tag: "TlsaValidated"; readonly owner: string }
  /** The domain's MTA-STS policy (the report's `mtaSts`). */
  | { readonly _tag: "MtaStsPolicy"; readonly mode: "enforce" | "testing"; readonly id: string }
  /** Neither standard authenticates the host: the policy as written (opportunistic). */
  | { readonly _tag: "NoStandard"; readonly dane: StandardAbsence; readonly mtaSts: StandardAbsence }

/** A validated TLSA record (`data` in hex); `usable`: one RFC 7672 lets authenticate (DANE-TA/EE). */
export interface ProbeTlsaRecord {
  readonly usage: number
  readonly selector: number
  readonly matchingType: number
  readonly data: string
  readonly usable: boolean
}

export interface ProbeAuthority {
  readonly source: PolicySource
  readonly reason: SourceReason
  /** DANE: the host's TLSA records; what matched (or why none did) is `evidence.tls.verification.dane`. */
  readonly tlsa?: ReadonlyArray<ProbeTlsaRecord>
}

export interface ProbeServerResult {
  readonly server: string
  readonly address: string | undefined
  readonly verdict: "ok" | FailureCode
  readonly failure: ProbeFailure | undefined
  /** Undefined when no hop was planned (the failure is the domain's, e.g. a bogus MX answer). */
  readonly authority: ProbeAuthority | undefined
  readonly evidence: AttemptEvidence | undefined
  /** Pins of what the server presented (leaf first): what a policy could pin. */
  readonly suggestedPins: ReadonlyArray<string>
}

export interface ProbeReport {
  readonly target: string
  readonly ok: boolean
  /** The partner whose policy was probed (absent: the defaults, or the caller's own policy). */
  readonly partner?: string
  /** The domain's MTA-STS policy as the service answered, when it was consulted. */
  readonly mtaSts?: StsDescription
  readonly servers: ReadonlyArray<ProbeServerResult>
}

const absence = (setting: StandardSwitch | undefined, bound: unknown): StandardAbsence =>
  setting === "off" ? "off-in-policy" : bound === undefined ? "not-bound" : "none-found"

/** The domain's MTA-STS answer, once: the probe reports what planning used. */
const lookUpSts = (
  lookup: StsLookup,
  domain: string,
): Effect.Effect<{ readonly policy: StsPolicy | undefined; readonly description?: StsDescription }> =>
  lookup.describe ? lookup.describe(domain) : Effect.map(lookup.policyFor(domain), (policy) => ({ policy }))

const tlsaOf = (authority: HopAuthority): ReadonlyArray<ProbeTlsaRecord> | undefined =>
  authority.tlsa?.map((r) => ({
    usage: r.usage,
    selector: r.selector,
    matchingType: r.matchingType,
    data: Buffer.from(r.data).toString("hex"),
    usable: isUsableTlsa(r),
  }))

const COMMON_FIELDS = new Set([
  "server",
  "phase",
  "detail",
  "attempts",
  "code",
  "retry",
  "_tag",
  "name",
  "message",
  "stack",
])

export const describeFailure = (error: DeliveryError): ProbeFailure => ({
  code: error.code,
  tag: error._tag,
  phase: error.phase,
  detail: error.detail,
  facts: Object.fromEntries(Object.entries(error).filter(([key]) => !COMMON_FIELDS.has(key))),
})

interface ProbeDeps {
  readonly settings: OutboundSettings
  readonly dns: DnsLookup
  readonly standards: TlsStandardsShape
  readonly history: Map<string, CertificateEvidence>
  readonly certificateFor: (
    tls: PartnerTls,
    server: string,
  ) => Effect.Effect<ClientCertificate | undefined, DeliveryError>
}

export const makeProbe = (deps: ProbeDeps) =>
  Effect.fn("OutboundDelivery.probe")(function* (request: ProbeRequest) {
    const now = new Date(yield* Clock.currentTimeMillis)
    const target =
      "domain" in request.target ? request.target.domain : `${request.target.host}:${request.target.port}`
    const failed = (server: string, error: DeliveryError): ProbeServerResult => ({
      server,
      address: undefined,
      verdict: error.code,
      failure: describeFailure(error),
      authority: undefined,
      evidence: undefined,
      suggestedPins: [],
    })
    const policy: PlanPolicy = {
      domain: "domain" in request.target ? request.target.domain : request.target.host,
      servers: "domain" in request.target ? request.servers : [request.target],
      tls: request.tls,
      partner: request.partner === undefined ? undefined : { name: request.partner },
    }
    const asWritten = standardsSkipped(policy)
    const sts = deps.standards.mtaSts
    const stsAnswer =
      asWritten === undefined && request.tls.mtaSts !== "off" && sts
        ? yield* lookUpSts(sts, policy.domain)
        : undefined
    // Planning gets the answer just looked up: one look-up, and the report shows what was used.
    const standards: TlsStandardsShape =
      sts && stsAnswer
        ? { ...deps.standards, mtaSts: { ...sts, policyFor: () => Effect.succeed(stsAnswer.policy) } }
        : deps.standards
    const facts = {
      ...(request.partner === undefined ? {} : { partner: request.partner }),
      ...(stsAnswer?.description ? { mtaSts: stsAnswer.description } : {}),
    }
    const planned = yield* Effect.either(planHops(policy, deps.dns, standards, deps.settings.mxPort))
    if (planned._tag === "Left")
      return { target, ok: false, ...facts, servers: [failed(target, planned.left)] }
    const reasonFor = (authority: HopAuthority, host: string, port: number): SourceReason =>
      authority.source === "dane"
        ? { _tag: "TlsaValidated", owner: tlsaOwner(host, port) }
        : authority.source === "mta-sts" && authority.mtaSts
          ? { _tag: "MtaStsPolicy", ...authority.mtaSts }
          : (asWritten ?? {
              _tag: "NoStandard",
              dane: absence(request.tls.dane, deps.standards.dns),
              mtaSts: absence(request.tls.mtaSts, sts),
            })

    const servers: Array<ProbeServerResult> = []
    for (const { hop, authority } of planned.right) {
      const hopTls = authority.tls
      const tlsa = tlsaOf(authority)
      const described: ProbeAuthority = {
        source: authority.source,
        reason: reasonFor(authority, hop.host, hop.port),
        ...(tlsa ? { tlsa } : {}),
      }
      const dane = authority.tlsa
        ? {
            tlsa: authority.tlsa,
            names: [hop.host, "domain" in request.target ? request.target.domain : hop.host],
          }
        : undefined
      for (const address of hop.addresses) {
        const server = `${hop.host}:${hop.port}`
        const transcript: Array<TranscriptLine> = []
        const outcome = yield* Effect.either(
          Effect.gen(function* () {
            const client = yield* deps
              .certificateFor(hopTls, server)
              .pipe(Effect.mapError((error): SessionFailure => ({ error, tls: undefined })))
            return yield* openSession({
              server,
              host: hop.host,
              accept: acceptedNames(
                hopTls,
                hop,
                "domain" in request.target ? request.target.domain : hop.host,
              ),
              address,
              port: hop.port,
              tls: hopTls,
              ...(dane ? { dane } : {}),
              ehloName: deps.settings.ehloName,
              timeouts: deps.settings.timeouts,
              clientCertificate: client,
              tlsSession: undefined,
              onTlsSession: () => {},
              now,
              previousCertificate: deps.history.get(hop.host),
              plaintextOnly: false,
              transcript,
            })
          }),
        )
        if (Either.isRight(outcome)) quitSession(outcome.right.session)
        const error = Either.isLeft(outcome) ? outcome.left.error : undefined
        const tls = Either.isLeft(outcome) ? outcome.left.tls : outcome.right.tls
        const evidence: AttemptEvidence = {
          server,
          host: hop.host,
          port: hop.port,
          address,
          mode: hopTls.mode,
          source: authority.source,
          ...(authority.mtaSts ? { mtaSts: authority.mtaSts } : {}),
          startedAt: now.toISOString(),
          bundleSerial: request.bundleSerial,
          tls,
          transcript,
          outcome: error?.code ?? "ok",
        }
        const presented = tls?.peer ? [tls.peer, ...tls.chain] : []
        servers.push({
          server,
          address,
          verdict: error?.code ?? "ok",
          failure: error ? describeFailure(error) : undefined,
          authority: described,
          evidence,
          suggestedPins: presented.map((cert) => cert.spkiPin),
        })
      }
    }
    return {
      target,
      ok: servers.every((s) => s.verdict === "ok"),
      ...facts,
      servers,
    } satisfies ProbeReport
  })
