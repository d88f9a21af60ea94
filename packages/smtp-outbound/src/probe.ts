/**
 * `probe`: every address of every next hop, connected and verified exactly as delivery would,
 * then QUIT — no MAIL FROM, no message. Operators run it before merging a policy change.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import type { PartnerTls } from "@mailconnect/policy"
import { Clock, Effect, Either } from "effect"
import { planHops } from "./authority"
import type { DeliveryError } from "./errors"
import type { AttemptEvidence, CertificateEvidence, TranscriptLine } from "./evidence"
import type { DnsLookup } from "./next-hops"
import type { OutboundSettings } from "./options"
import { type ClientCertificate, openSession, type SessionFailure } from "./session"
import type { TlsStandardsShape } from "./standards"
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
      evidence: undefined,
      suggestedPins: [],
    })
    const planned = yield* Effect.either(
      planHops(
        {
          domain: "domain" in request.target ? request.target.domain : request.target.host,
          servers: "domain" in request.target ? request.servers : [request.target],
          tls: request.tls,
          partner: request.partner === undefined ? undefined : { name: request.partner },
        },
        deps.dns,
        deps.standards,
        deps.settings.mxPort,
      ),
    )
    if (planned._tag === "Left") return { target, ok: false, servers: [failed(target, planned.left)] }

    const servers: Array<ProbeServerResult> = []
    for (const { hop, authority } of planned.right) {
      const hopTls = authority.tls
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
          evidence,
          suggestedPins: presented.map((cert) => cert.spkiPin),
        })
      }
    }
    return { target, ok: servers.every((s) => s.verdict === "ok"), servers } satisfies ProbeReport
  })
