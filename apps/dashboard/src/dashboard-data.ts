/**
 * `DashboardData`: what our own pages show, read from Redis on each request — heartbeats
 * (`FleetRegistry`), the policy pointer and bundle (`PolicyStore`, verified with the trusted keys
 * exactly as a relay would, so the page never presents a forged policy as active) and the
 * delivery statistics (`DeliveryStats`: per partner, per policy source, and the domains whose
 * DANE or MTA-STS authentication failed), and the TLS reports other organisations sent us
 * (`ReceivedReports`, RFC 8460). Read-only: no method here writes.
 */
import type { TrustedKey } from "@mailconnect/bundle"
import {
  DeliveryStats,
  type PartnerHealth,
  type PartnerStatus,
  type PolicySourceHealth,
  partnerWatch,
  QueueLayout,
} from "@mailconnect/delivery-queue"
import { FleetRegistry } from "@mailconnect/fleet"
import { DEFAULT_RETENTION_MS, makeTraceIndex, type TraceIndexShape } from "@mailconnect/message-trace"
import {
  type ActivePolicyView,
  activePolicyView,
  type BundlePayload,
  SUPPORTED_SCHEMAS,
  type TlsMode,
} from "@mailconnect/policy"
import { checkBundle, PolicyStore } from "@mailconnect/policy-store"
import { RedisClient } from "@mailconnect/redis-client"
import {
  type DailyView,
  makeReceivedReports,
  RETENTION_DAYS,
  type RejectedCount,
  type ReportSummary,
} from "@mailconnect/tlsrpt/inbound"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { BundleNotPublished, BundleUnverified } from "./errors"
import { type FleetStatus, fleetStatus } from "./fleet-status"
import { type PolicyStatus, policyStatus } from "./policy-status"

export interface HealthStatus {
  readonly partners: ReadonlyArray<PartnerHealth & { readonly mode: TlsMode | undefined }>
  /** Fleet-wide, every domain: recipients per policy source, and the failed authentications. */
  readonly sources: PolicySourceHealth
  /** Serial of the verified policy the modes come from; undefined when none could be read. */
  readonly serial: number | undefined
  /** The enforced partners' certificates and attestations (empty without a verified policy). */
  readonly watch: ReadonlyArray<PartnerStatus>
}

/** The TLS reports received for our domains (RFC 8460). */
export interface TlsReportsStatus {
  readonly daily: DailyView
  readonly recent: ReadonlyArray<ReportSummary>
  readonly rejected: ReadonlyArray<RejectedCount>
  readonly retentionDays: number
}

/** How many received reports the page lists. */
const RECENT_REPORTS = 50

/** Any failure a page may meet: rendered as an error page with its tag, never thrown. */
export interface DataFailure {
  readonly _tag: string
}

export interface DashboardDataShape {
  readonly fleet: Effect.Effect<FleetStatus, DataFailure>
  readonly policy: Effect.Effect<PolicyStatus, DataFailure>
  readonly health: Effect.Effect<HealthStatus, DataFailure>
  readonly tlsReports: Effect.Effect<TlsReportsStatus, DataFailure>
  /** The verified active policy (the queue page's partner filter); undefined when none verifies. */
  readonly activePolicy: Effect.Effect<ActivePolicyView | undefined>
  /** The fleet's message trace (the trace page), read only. */
  readonly trace: Pick<TraceIndexShape, "search" | "show">
}

interface VerifiedPolicy {
  readonly payload: BundlePayload
  readonly digest: string
  readonly keyId: string
  readonly publishedAt: string
}

export class DashboardData extends Context.Tag("@mailconnect/dashboard/DashboardData")<
  DashboardData,
  DashboardDataShape
>() {
  static layer = (trusted: ReadonlyArray<TrustedKey>) =>
    Layer.effect(
      DashboardData,
      Effect.gen(function* () {
        const registry = yield* FleetRegistry
        const store = yield* PolicyStore
        const stats = yield* DeliveryStats
        const received = makeReceivedReports(yield* RedisClient)
        // A reader: the relay name and retention only matter to writers.
        const trace = makeTraceIndex(yield* RedisClient, {
          relay: "dashboard",
          retentionMs: DEFAULT_RETENTION_MS,
          shards: (yield* QueueLayout).shards,
        })

        const pointer = store.readCurrent.pipe(Effect.map(Option.getOrUndefined))

        const verified: Effect.Effect<VerifiedPolicy, DataFailure> = Effect.gen(function* () {
          const current = yield* pointer
          if (current === undefined) return yield* new BundleNotPublished()
          const bytes = yield* store.readBundle(current.digest)
          if (Option.isNone(bytes))
            return yield* new BundleUnverified({
              digest: current.digest,
              reason: "BundleMissing",
              detail: "the pointer names a digest whose bytes are not in Redis",
            })
          const checked = yield* checkBundle(bytes.value, trusted, SUPPORTED_SCHEMAS).pipe(
            Effect.mapError(
              (e) =>
                new BundleUnverified({
                  digest: current.digest,
                  reason: e._tag,
                  detail: "detail" in e ? String(e.detail) : JSON.stringify(e),
                }),
            ),
          )
          if (checked.digest !== current.digest || checked.serial !== current.serial)
            return yield* new BundleUnverified({
              digest: current.digest,
              reason: "BundlePointerMismatch",
              detail: `pointer says serial ${current.serial} digest ${current.digest}; bytes are serial ${checked.serial} digest ${checked.digest}`,
            })
          return {
            payload: checked.payload,
            digest: checked.digest,
            keyId: checked.keyId,
            publishedAt: current.publishedAt,
          }
        })

        const fleet = Effect.gen(function* () {
          const live = yield* registry.live
          const current = yield* pointer
          return fleetStatus({
            relays: live.relays,
            unreadable: live.unreadable.map((u) => `${u.key}: ${u.detail}`),
            pointer: current,
          })
        }).pipe(Effect.withSpan("DashboardData.fleet"))

        const policy = Effect.gen(function* () {
          const v = yield* verified
          const now = yield* Clock.currentTimeMillis
          return policyStatus({ ...v, now })
        }).pipe(Effect.withSpan("DashboardData.policy"))

        const health = Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const [figures, sources, certificates, routes] = yield* Effect.all(
            [stats.health(now), stats.policySources(now), stats.certificates, stats.routes],
            { concurrency: "unbounded" },
          )
          // Modes are decoration: statistics are still worth showing when the policy cannot be read.
          const v = yield* Effect.option(verified)
          const partners = Option.match(v, {
            onNone: () => ({}) as BundlePayload["policy"]["partners"],
            onSome: (p) => p.payload.policy.partners,
          })
          return {
            partners: figures.map((f) => ({ ...f, mode: partners[f.partner]?.tls.mode })),
            sources,
            serial: Option.getOrUndefined(Option.map(v, (p) => p.payload.serial)),
            watch: Option.match(v, {
              onNone: () => [],
              onSome: (p) => partnerWatch(p.payload.policy, certificates, now, {}, routes),
            }),
          }
        }).pipe(Effect.withSpan("DashboardData.health"))

        const tlsReports = Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const [daily, recent, rejected] = yield* Effect.all(
            [received.daily(now), received.recent(RECENT_REPORTS), received.rejected(now)],
            { concurrency: "unbounded" },
          )
          return { daily, recent, rejected, retentionDays: RETENTION_DAYS }
        }).pipe(Effect.withSpan("DashboardData.tlsReports"))

        const activePolicy = Effect.option(verified).pipe(
          Effect.map(
            Option.match({
              onNone: () => undefined,
              onSome: (v) => activePolicyView(v.payload.policy, v.payload.index, v.payload.serial),
            }),
          ),
        )

        return { fleet, policy, health, tlsReports, activePolicy, trace }
      }),
    )
}
