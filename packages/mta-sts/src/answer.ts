/**
 * What `MtaSts.policyFor` answers, and the pure rules of RFC 8461 §3.3 and §5.1 that pick it
 * from the cache, the TXT record and the clock: a valid cached policy is used until it expires;
 * a new id is fetched, and only a successful fetch replaces the cached policy; a missing or
 * unreadable TXT record leaves a cached policy in force; a fetch that failed for an id is not
 * retried for that id before its backoff ends.
 */
import type { CachedPolicy, FetchBackoff } from "./cache"
import type { MtaStsDnsFailed, MtaStsError, PolicyFetchError } from "./errors"
import type { PolicyMode } from "./policy-file"
import type { RecordDiscovery } from "./record"

/** `unavailable`: Redis did not answer, so this answer was made without the shared cache. */
export type CacheStatus = "ok" | "unavailable"

export type Discovery = RecordDiscovery | { readonly _tag: "DnsFailed"; readonly cause: MtaStsDnsFailed }

export type NoPolicyReason =
  | "not-a-domain"
  | "no-record"
  | "invalid-record"
  | "multiple-records"
  | "dns-failed"
  | "fetch-failed"
  | "fetch-backoff"

/** Deliver as though the domain had no MTA-STS (RFC 8461 §3.3, §5). */
export interface NoPolicy {
  readonly _tag: "NoPolicy"
  readonly domain: string
  readonly reason: NoPolicyReason
  /** The TXT id whose policy could not be had (`fetch-failed`, `fetch-backoff`). */
  readonly id?: string
  /** `dns-failed`, `fetch-failed`: what went wrong. */
  readonly cause?: MtaStsError
  /** `fetch-backoff`: no new fetch of this id before then (epoch ms). */
  readonly retryAt?: number
  readonly cache: CacheStatus
}

/** Why a cached policy is in force without DNS or the policy host confirming it now. */
export interface Unconfirmed {
  readonly reason: Exclude<NoPolicyReason, "not-a-domain">
  readonly cause?: MtaStsError
}

export interface Policy {
  readonly _tag: "Policy"
  readonly domain: string
  readonly id: string
  readonly mode: PolicyMode
  /** Allowed MX patterns; match a host with `mxMatches`. */
  readonly mx: ReadonlyArray<string>
  /** Seconds. */
  readonly maxAge: number
  /** Epoch ms (Effect Clock). */
  readonly fetchedAt: number
  readonly expiresAt: number
  readonly source: "cache" | "fetched"
  readonly cache: CacheStatus
  /** Set when the cached policy stays in force because the TXT record is gone or a new one could not be fetched. */
  readonly unconfirmed?: Unconfirmed
  /** `started`: the cached policy is getting old and a fetch runs in the background. */
  readonly refresh: "none" | "started"
}

export type PolicyAnswer = NoPolicy | Policy

/** What to do next, decided before any fetch. */
export type Plan =
  | {
      readonly _tag: "UseCached"
      readonly cached: CachedPolicy
      readonly unconfirmed?: Unconfirmed
      readonly refresh: boolean
    }
  | { readonly _tag: "Fetch"; readonly id: string; readonly fallback: CachedPolicy | undefined }
  | {
      readonly _tag: "NoPolicy"
      readonly reason: NoPolicyReason
      readonly id?: string
      readonly cause?: MtaStsError
      readonly retryAt?: number
    }

export interface PlanInput {
  readonly cached: CachedPolicy | undefined
  readonly backoff: FetchBackoff | undefined
  readonly discovery: Discovery
  readonly now: number
  /** Refresh a policy older than this, or older than half its max_age, whichever comes first. */
  readonly refreshAfterMs: number
}

export const plan = ({ cached, backoff, discovery, now, refreshAfterMs }: PlanInput): Plan => {
  const valid = cached !== undefined && now < cached.expiresAt ? cached : undefined
  const backingOff = (id: string) => backoff !== undefined && backoff.id === id && now < backoff.until
  switch (discovery._tag) {
    case "Found": {
      const { id } = discovery
      if (valid?.id === id) {
        const age = now - valid.fetchedAt
        const due = age >= Math.min(refreshAfterMs, (valid.policy.maxAge * 1000) / 2)
        return { _tag: "UseCached", cached: valid, refresh: due && !backingOff(id) }
      }
      if (backingOff(id))
        return valid
          ? { _tag: "UseCached", cached: valid, unconfirmed: { reason: "fetch-backoff" }, refresh: false }
          : { _tag: "NoPolicy", reason: "fetch-backoff", id, retryAt: backoff!.until }
      return { _tag: "Fetch", id, fallback: valid }
    }
    case "Absent":
      return valid
        ? { _tag: "UseCached", cached: valid, unconfirmed: { reason: discovery.reason }, refresh: false }
        : { _tag: "NoPolicy", reason: discovery.reason }
    case "DnsFailed":
      return valid
        ? {
            _tag: "UseCached",
            cached: valid,
            unconfirmed: { reason: "dns-failed", cause: discovery.cause },
            refresh: false,
          }
        : { _tag: "NoPolicy", reason: "dns-failed", cause: discovery.cause }
  }
}

export const policyAnswer = (
  domain: string,
  cached: CachedPolicy,
  extra: Pick<Policy, "source" | "cache" | "refresh"> & { readonly unconfirmed?: Unconfirmed | undefined },
): Policy => ({
  _tag: "Policy",
  domain,
  id: cached.id,
  mode: cached.policy.mode,
  mx: cached.policy.mx,
  maxAge: cached.policy.maxAge,
  fetchedAt: cached.fetchedAt,
  expiresAt: cached.expiresAt,
  source: extra.source,
  cache: extra.cache,
  refresh: extra.refresh,
  ...(extra.unconfirmed === undefined ? {} : { unconfirmed: extra.unconfirmed }),
})

/** A failed fetch: the still-valid cached policy if there is one, else no policy. */
export const afterFailedFetch = (
  domain: string,
  id: string,
  error: PolicyFetchError,
  fallback: CachedPolicy | undefined,
  cache: CacheStatus,
): PolicyAnswer =>
  fallback
    ? policyAnswer(domain, fallback, {
        source: "cache",
        cache,
        refresh: "none",
        unconfirmed: { reason: "fetch-failed", cause: error },
      })
    : { _tag: "NoPolicy", domain, reason: "fetch-failed", id, cause: error, cache }
