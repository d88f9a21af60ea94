/**
 * `MtaSts`: the MTA-STS policy (RFC 8461) of a recipient domain without a bilateral partner
 * policy, asked at delivery time. Discovers the `_mta-sts.<domain>` TXT id, fetches
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt` when the id is new or the cached policy has
 * expired, validates it, caches it for the whole fleet in Redis, and answers with the mode and
 * the allowed MX patterns (`mxMatches` tells whether a host is one of them).
 *
 * Trusts: the web PKI (or the configured CA) for the policy host — a policy is only ever taken
 * from a TLS session whose certificate chains to a trusted root and names `mta-sts.<domain>`.
 * DNS only for discovery: an attacker who blocks or forges DNS or blocks HTTPS can delay the
 * first policy of a domain, never downgrade or remove a cached one (a failed fetch never touches
 * the cache; a vanished TXT record leaves the cached policy in force until it expires). Whoever
 * can write the Redis keys can change policies; Redis is trusted like the rest of the relay's state.
 *
 * Touches: DNS (TXT `_mta-sts.<domain>`, A/AAAA `mta-sts.<domain>`) on the configured servers;
 * HTTPS to `mta-sts.<domain>:443` (the port is configurable for tests); Redis keys
 * `{prefix}:mta-sts:<domain>` and `{prefix}:mta-sts:<domain>:fetch-failed` (see cache.ts).
 *
 * Never fails: RFC 8461 leaves every failure to one of two answers — the cached policy, or none
 * (deliver as without MTA-STS) — so the cause travels in the answer as a tagged value. Without
 * Redis it still answers, by fetching, and says `cache: "unavailable"`.
 */
import { domainToASCII } from "node:url"
import { RedisClient } from "@mailconnect/redis-client"
import {
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  type Exit,
  FiberId,
  FiberSet,
  Layer,
  Option,
} from "effect"
import {
  afterFailedFetch,
  type CacheStatus,
  type Discovery,
  type PolicyAnswer,
  plan,
  policyAnswer,
} from "./answer"
import { type CachedPolicy, makePolicyCache } from "./cache"
import { makeMtaStsDns } from "./dns"
import { MtaStsFetchFailed, type PolicyFetchError } from "./errors"
import { type FetchLimits, fetchPolicyText, policyUrl } from "./fetch"
import { isDomainName, parsePolicy } from "./policy-file"
import { discoverFromTxt } from "./record"

export interface MtaStsConfig {
  /** DNS servers, `ip` or `ip:port`; absent or empty: the system's resolvers. */
  readonly dnsServers?: ReadonlyArray<string>
  /** PEM roots that replace the public ones (a test CA); absent: Node's bundled web PKI roots. */
  readonly ca?: string
  /** The policy host's port: 443 (RFC 8461 §3.3) except in tests. */
  readonly port?: number
  /** TCP and TLS set-up of the policy fetch (default 10 s). */
  readonly connectTimeout?: Duration.DurationInput
  /** The whole policy fetch (default 20 s). */
  readonly totalTimeout?: Duration.DurationInput
  /** Largest policy body accepted (default 64 KiB, RFC 8461 §3.3). */
  readonly maxPolicyBytes?: number
  /** Refetch a cached policy in the background once it is this old or past half its max_age (default 1 day). */
  readonly refreshAfter?: Duration.DurationInput
  /** After a failed fetch, no new fetch of the same id for this long (default 5 minutes, RFC 8461 §3.3). */
  readonly retryFailedFetchAfter?: Duration.DurationInput
  /**
   * How long this process reuses what the `_mta-sts` TXT record said (default 1 minute; 0: ask on
   * every delivery). A lookup that failed is never reused. A new id is noticed within this time.
   */
  readonly discoveryCacheFor?: Duration.DurationInput
}

export interface MtaStsShape {
  readonly policyFor: (domain: string) => Effect.Effect<PolicyAnswer>
}

/** Lower-case A-label without a trailing dot, or undefined for an address literal or junk. */
const normalizeDomain = (input: string): string | undefined => {
  const ascii = domainToASCII(input.trim().replace(/\.$/, ""))
  return ascii !== "" && isDomainName(ascii) ? ascii : undefined
}

type FetchResult = Either.Either<CachedPolicy, PolicyFetchError>

const failureReason = (error: PolicyFetchError): string =>
  error._tag === "MtaStsFetchFailed" ? error.form : `${error.rule} (line ${error.line})`

export const makeMtaSts = (config: MtaStsConfig) =>
  Effect.gen(function* () {
    const redis = yield* RedisClient
    const cache = makePolicyCache(redis)
    const dns = makeMtaStsDns(config.dnsServers)
    const fibers = yield* FiberSet.make()
    const inFlight = new Map<string, Deferred.Deferred<FetchResult>>()
    const limits: FetchLimits = {
      port: config.port ?? 443,
      ca: config.ca,
      connectTimeoutMs: Duration.toMillis(config.connectTimeout ?? "10 seconds"),
      totalTimeoutMs: Duration.toMillis(config.totalTimeout ?? "20 seconds"),
      maxBytes: config.maxPolicyBytes ?? 64 * 1024,
    }
    const refreshAfterMs = Duration.toMillis(config.refreshAfter ?? "1 day")
    const retryAfterMs = Duration.toMillis(config.retryFailedFetchAfter ?? "5 minutes")

    const discoveryCacheMs = Duration.toMillis(config.discoveryCacheFor ?? "1 minute")
    const discovered = new Map<string, { readonly discovery: Discovery; readonly until: number }>()
    const lookUp = (domain: string): Effect.Effect<Discovery> =>
      dns.txt(`_mta-sts.${domain}`).pipe(
        Effect.map(discoverFromTxt),
        Effect.catchTag("MtaStsDnsFailed", (cause) => Effect.succeed({ _tag: "DnsFailed" as const, cause })),
      )
    const discover = (domain: string): Effect.Effect<Discovery> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const hit = discovered.get(domain)
        if (hit && hit.until > now) return hit.discovery
        const discovery = yield* lookUp(domain)
        if (discoveryCacheMs > 0 && discovery._tag !== "DnsFailed") {
          if (discovered.size >= 10_000) discovered.clear()
          discovered.set(domain, { discovery, until: now + discoveryCacheMs })
        }
        return discovery
      })

    const fetchPolicy = (domain: string) =>
      dns.addresses(`mta-sts.${domain}`).pipe(
        Effect.mapError(
          (e) =>
            new MtaStsFetchFailed({
              domain,
              url: policyUrl(domain, limits.port),
              form: "dns",
              code: e.code,
              detail: e.detail,
            }),
        ),
        Effect.flatMap((addresses) => fetchPolicyText(domain, addresses, limits)),
        Effect.flatMap((text) => parsePolicy(domain, text)),
      )

    /** Fetch, then record the outcome in the cache: the policy on success, a backoff on failure. */
    const fetchAndRecord = (
      domain: string,
      id: string,
      cacheStatus: CacheStatus,
    ): Effect.Effect<FetchResult> =>
      Effect.gen(function* () {
        const result = yield* Effect.either(fetchPolicy(domain))
        const now = yield* Clock.currentTimeMillis
        const write = cacheStatus === "ok"
        if (Either.isLeft(result)) {
          yield* Effect.logWarning("mta-sts: policy fetch failed").pipe(
            Effect.annotateLogs({ domain, id, reason: failureReason(result.left) }),
          )
          if (write)
            yield* cache
              .backOff(domain, { id, until: now + retryAfterMs, reason: failureReason(result.left) }, now)
              .pipe(Effect.catchAll((e) => Effect.logWarning(`mta-sts: backoff not stored: ${e.detail}`)))
          return Either.left(result.left)
        }
        const policy = result.right
        const entry: CachedPolicy = { id, policy, fetchedAt: now, expiresAt: now + policy.maxAge * 1000 }
        if (write)
          yield* cache
            .store(domain, entry, now)
            .pipe(Effect.catchAll((e) => Effect.logWarning(`mta-sts: policy not cached: ${e.detail}`)))
        return Either.right(entry)
      }).pipe(Effect.withSpan("MtaSts.fetch", { attributes: { domain, id } }))

    /**
     * The running fetch of this domain and id, or a new one forked into the layer's scope: one
     * fetch per domain and id at a time in this process, whoever asks (deliveries, refreshes).
     */
    const fetchOnce = (domain: string, id: string, cacheStatus: CacheStatus) =>
      Effect.suspend(() => {
        const key = `${domain} ${id}`
        const running = inFlight.get(key)
        if (running) return Effect.succeed(running)
        const done = Deferred.unsafeMake<FetchResult>(FiberId.none)
        inFlight.set(key, done)
        const settle = (exit: Exit.Exit<FetchResult>) =>
          Effect.sync(() => inFlight.delete(key)).pipe(Effect.zipRight(Deferred.done(done, exit)))
        return FiberSet.run(fibers, fetchAndRecord(domain, id, cacheStatus).pipe(Effect.onExit(settle))).pipe(
          Effect.as(done),
        )
      })

    const policyFor = Effect.fnUntraced(function* (input: string) {
      const domain = normalizeDomain(input)
      if (domain === undefined) {
        const answer: PolicyAnswer = { _tag: "NoPolicy", domain: input, reason: "not-a-domain", cache: "ok" }
        return answer
      }
      yield* Effect.annotateCurrentSpan("domain", domain)
      const [entry, discovery] = yield* Effect.all([Effect.either(cache.read(domain)), discover(domain)], {
        concurrency: 2,
      })
      if (Either.isLeft(entry))
        yield* Effect.logWarning("mta-sts: Redis unavailable, answering without the shared cache").pipe(
          Effect.annotateLogs({ domain, error: entry.left.detail }),
        )
      const cacheStatus: CacheStatus = Either.isRight(entry) ? "ok" : "unavailable"
      const now = yield* Clock.currentTimeMillis
      const next = plan({
        cached: Either.isRight(entry) ? Option.getOrUndefined(entry.right.cached) : undefined,
        backoff: Either.isRight(entry) ? Option.getOrUndefined(entry.right.backoff) : undefined,
        discovery,
        now,
        refreshAfterMs,
      })
      switch (next._tag) {
        case "NoPolicy": {
          const { _tag, ...rest } = next
          const answer: PolicyAnswer = { _tag: "NoPolicy", domain, ...rest, cache: cacheStatus }
          return answer
        }
        case "UseCached": {
          if (next.refresh) yield* fetchOnce(domain, next.cached.id, cacheStatus)
          return policyAnswer(domain, next.cached, {
            source: "cache",
            cache: cacheStatus,
            refresh: next.refresh ? "started" : "none",
            unconfirmed: next.unconfirmed,
          })
        }
        case "Fetch": {
          const result = yield* Deferred.await(yield* fetchOnce(domain, next.id, cacheStatus))
          return Either.match(result, {
            onLeft: (error) => afterFailedFetch(domain, next.id, error, next.fallback, cacheStatus),
            onRight: (fetched) =>
              policyAnswer(domain, fetched, { source: "fetched", cache: cacheStatus, refresh: "none" }),
          })
        }
      }
    })

    return { policyFor } satisfies MtaStsShape
  })

export class MtaSts extends Context.Tag("@mailconnect/MtaSts")<MtaSts, MtaStsShape>() {
  /** Needs `RedisClient`; in-flight fetches are interrupted when the layer's scope closes. */
  static layer = (config: MtaStsConfig = {}) => Layer.scoped(MtaSts, makeMtaSts(config))
}
