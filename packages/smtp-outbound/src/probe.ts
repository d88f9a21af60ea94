/**
 * `probe`: every address of every next hop, connected and verified exactly as delivery would,
 * then QUIT — no MAIL FROM, no message. Operators run it before merging a policy change.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import type { PartnerTls } from "@mailconnect/policy"
import { Clock, Effect, Either } from "effect"
import type { DeliveryError } from "./errors"
import type { AttemptEvidence, CertificateEvidence, TranscriptLine } from "./evidence"
import { type DnsLookup, DnsResolver, type NextHop, resolveNextHops } from "./next-hops"
import type { OutboundSettings } from "./options"
import { type ClientCertificate, openSession, type SessionFailure } from "./session"
import { quitSession } from "./transaction"
import { acceptedNames } from "./verify"

export type ProbeTarget = { readonly domain: string } | { readonly host: string; readonly port: number }

export interface ProbeRequest {
  readonly target: ProbeTarget
  readonly tls: PartnerTls
  readonly bundleSerial?: number
  /** Route servers from the policy (for a domain target); absent: DNS MX. */
  readonly servers?: ReadonlyArray<{ readonly host: string; readonly port: number }>
}

export interface ProbeFailure {
  readonly code: FailureCode
  readonly tag: string
  readonly phase: string
  readonly detail: string
  /** The fields particular to the cause (diagnosis, expected names, form, …). */
  readonly facts: Readonly<Record<string, unknown>>
}

export interface ProbeServerResult {
  readonly server: string
  readonly address: string | undefined
  readonly verdict: "ok" | FailureCode
  readonly failure: ProbeFailure | undefined
  readonly evidence: AttemptEvidence | undefined
  /** Pins of what the server presented (leaf first): what a policy could pin. */
  readonly suggestedPins: ReadonlyArray<string>
}

export interface ProbeReport {
  readonly target: string
  readonly ok: boolean
  readonly servers: ReadonlyArray<ProbeServerResult>
}

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
      evidence: undefined,
      suggestedPins: [],
    })
    const hopsResult = yield* Effect.either(
      resolveNextHops(
        "domain" in request.target ? request.target.domain : request.target.host,
        "domain" in request.target ? request.servers : [request.target],
        deps.settings.mxPort,
      ).pipe(Effect.provideService(DnsResolver, deps.dns)),
    )
    if (hopsResult._tag === "Left") return { target, ok: false, servers: [failed(target, hopsResult.left)] }
    const hops: ReadonlyArray<NextHop> = hopsResult.right

    const servers: Array<ProbeServerResult> = []
    for (const hop of hops) {
      for (const address of hop.addresses) {
        const server = `${hop.host}:${hop.port}`
        const transcript: Array<TranscriptLine> = []
        const outcome = yield* Effect.either(
          Effect.gen(function* () {
            const client = yield* deps
              .certificateFor(request.tls, server)
              .pipe(Effect.mapError((error): SessionFailure => ({ error, tls: undefined })))
            return yield* openSession({
              server,
              host: hop.host,
              accept: acceptedNames(
                request.tls,
                hop,
                "domain" in request.target ? request.target.domain : hop.host,
              ),
              address,
              port: hop.port,
              tls: request.tls,
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
          mode: request.tls.mode,
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
          evidence,
          suggestedPins: presented.map((cert) => cert.spkiPin),
        })
      }
    }
    return { target, ok: servers.every((s) => s.verdict === "ok"), servers } satisfies ProbeReport
  })
