/**
 * `ActivePolicy`: the policy bundle a relay acts on, hot-loaded from Redis.
 *
 * At start it activates the last-known-good copy from disk (if it verifies), then whatever Redis
 * holds if that is newer. Afterwards every change notice and every poll tick (pub/sub is lossy)
 * re-reads the `current` pointer. A candidate is activated only when signature, digest, schema
 * and payload check out and its serial is above the active one and not below the anti-rollback
 * floor; otherwise the running bundle stays, the refusal is logged and counted by reason, and that
 * digest is not retried.
 *
 * The floor is this relay's own (in memory, and the last-known-good copy's serial on disk), raised
 * by the fleet floor in Redis — the highest serial any relay has activated — but only as far as
 * the signed bundle that record names vouches for, and never lowered by it: a Redis writer can
 * neither roll a relay back by deleting or lowering the record nor invent a floor without a
 * signature. After each activation the relay raises the fleet floor (compare-and-raise).
 *
 * The active bundle is one immutable value in a `SubscriptionRef`: a delivery reads it once and
 * sees payload, lookup, digest and serial of the same bundle.
 *
 * Trusts: only the configured verification keys. Touches: Redis (read), the state directory.
 */
import type { TrustedKey } from "@mailconnect/bundle"
import { type BundlePayload, makeLookup, type PolicyLookup } from "@mailconnect/policy"
import {
  Clock,
  Context,
  type Duration,
  Effect,
  Layer,
  Metric,
  Option,
  PubSub,
  Ref,
  Schedule,
  Stream,
  SubscriptionRef,
} from "effect"
import { type BundleCheckError, type CheckedBundle, checkBundle, verifyHeader } from "./check"
import {
  BundleBelowFloor,
  BundleMissing,
  BundlePointerMismatch,
  BundleSerialNotAbove,
  type PointerMalformed,
} from "./errors"
import { LastKnownGood } from "./last-known-good"
import * as metrics from "./metrics"
import { PolicyStore } from "./store"

export type BundleOrigin = "redis" | "last-known-good"

export interface ActiveBundle {
  readonly payload: BundlePayload
  readonly lookup: PolicyLookup
  readonly digest: string
  readonly serial: number
  readonly schema: number
  readonly keyId: string
  readonly origin: BundleOrigin
  /** Epoch milliseconds (Effect Clock). */
  readonly activatedAt: number
}

export interface Activation {
  readonly previous: Option.Option<ActiveBundle>
  readonly next: ActiveBundle
}

export type RefreshOutcome =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Unchanged"; readonly serial: number }
  | { readonly _tag: "Activated"; readonly bundle: ActiveBundle }
  | { readonly _tag: "Refused"; readonly reason: string; readonly digest: string; readonly repeated: boolean }
  | { readonly _tag: "Unavailable"; readonly detail: string }

export type RefusalReason =
  | BundleCheckError
  | BundleSerialNotAbove
  | BundleBelowFloor
  | BundleMissing
  | BundlePointerMismatch
  | PointerMalformed

export interface HotLoadConfig {
  readonly trusted: ReadonlyArray<TrustedKey>
  readonly supportedSchemas: ReadonlyArray<number>
  /** Re-read the pointer this often even without a notice. */
  readonly pollInterval: Duration.DurationInput
  /** How long the start-up read from Redis may take before the relay starts without it. */
  readonly startTimeout: Duration.DurationInput
}

export interface ActivePolicyShape {
  readonly current: Effect.Effect<Option.Option<ActiveBundle>>
  /** The active bundle now (if any) and every later activation. */
  readonly changes: Stream.Stream<ActiveBundle>
  /** Later activations with the bundle they replaced (e.g. to flush a partner's queued mail). */
  readonly activations: Stream.Stream<Activation>
  /** Re-read Redis now (notices and the poll call this). */
  readonly refresh: Effect.Effect<RefreshOutcome>
  /** Refusals so far, by reason tag. */
  readonly rejectCounts: Effect.Effect<Readonly<Record<string, number>>>
  /** The anti-rollback floor this relay holds: no bundle below it is activated. */
  readonly floor: Effect.Effect<number>
  readonly supportedSchemas: ReadonlyArray<number>
}

/** Refused digests are not re-checked on every poll; the set is bounded against a hostile writer. */
const REFUSED_MEMORY = 1_000

export class ActivePolicy extends Context.Tag("@mailconnect/ActivePolicy")<
  ActivePolicy,
  ActivePolicyShape
>() {
  static layer = (config: HotLoadConfig) =>
    Layer.scoped(
      this,
      Effect.gen(function* () {
        const store = yield* PolicyStore
        const lastKnownGood = yield* LastKnownGood
        const active = yield* SubscriptionRef.make(Option.none<ActiveBundle>())
        const activationHub = yield* PubSub.unbounded<Activation>()
        const counts = yield* Ref.make<Record<string, number>>({})
        const refused = new Set<string>()
        const redisHealthy = yield* Ref.make(true)
        const lock = yield* Effect.makeSemaphore(1)
        const floor = yield* Ref.make(0)
        yield* Metric.set(metrics.activeSerial, 0)

        const reject = (error: RefusalReason, digest: string, origin: BundleOrigin) =>
          Effect.gen(function* () {
            if (refused.size >= REFUSED_MEMORY) refused.clear()
            refused.add(digest)
            yield* Ref.update(counts, (c) => ({ ...c, [error._tag]: (c[error._tag] ?? 0) + 1 }))
            yield* Metric.increment(
              Metric.tagged(Metric.tagged(metrics.rejects, "reason", error._tag), "origin", origin),
            )
            const current = yield* SubscriptionRef.get(active)
            yield* Effect.logWarning(`policy bundle refused: ${error._tag}`).pipe(
              Effect.annotateLogs({
                digest,
                origin,
                refusal: JSON.stringify(error),
                keeping: Option.match(current, { onNone: () => "none", onSome: (b) => String(b.serial) }),
              }),
            )
            return { _tag: "Refused", reason: error._tag, digest, repeated: false } as const
          })

        const activate = (checked: CheckedBundle, origin: BundleOrigin) =>
          Effect.gen(function* () {
            const previous = yield* SubscriptionRef.get(active)
            if (Option.isSome(previous) && checked.serial <= previous.value.serial)
              return yield* reject(
                new BundleSerialNotAbove({ serial: checked.serial, current: previous.value.serial }),
                checked.digest,
                origin,
              )
            const atLeast = yield* Ref.get(floor)
            if (checked.serial < atLeast)
              return yield* reject(
                new BundleBelowFloor({ serial: checked.serial, floor: atLeast }),
                checked.digest,
                origin,
              )
            const bundle: ActiveBundle = {
              payload: checked.payload,
              lookup: makeLookup(checked.payload.policy, checked.payload.index),
              digest: checked.digest,
              serial: checked.serial,
              schema: checked.schema,
              keyId: checked.keyId,
              origin,
              activatedAt: yield* Clock.currentTimeMillis,
            }
            yield* SubscriptionRef.set(active, Option.some(bundle))
            yield* PubSub.publish(activationHub, { previous, next: bundle })
            yield* Metric.set(metrics.activeSerial, bundle.serial)
            yield* Metric.increment(Metric.tagged(metrics.activations, "origin", origin))
            yield* Effect.logInfo("policy bundle activated").pipe(
              Effect.annotateLogs({ serial: bundle.serial, digest: bundle.digest, origin }),
            )
            yield* Ref.update(floor, (f) => Math.max(f, bundle.serial))
            if (origin === "redis") yield* lastKnownGood.write(checked.bytes)
            // A disk copy was written after its activation from Redis, which raised the floor then.
            if (origin === "redis")
              yield* store
                .raiseFloor({ serial: bundle.serial, digest: bundle.digest })
                .pipe(
                  Effect.catchAll((error) =>
                    Effect.logWarning("cannot raise the fleet anti-rollback floor; own floor kept").pipe(
                      Effect.annotateLogs({ serial: bundle.serial, error: error.detail }),
                    ),
                  ),
                )
            return { _tag: "Activated", bundle } as const
          })

        const consider = (bytes: string, expectedDigest: Option.Option<string>, origin: BundleOrigin) =>
          checkBundle(bytes, config.trusted, config.supportedSchemas).pipe(
            Effect.filterOrFail(
              (checked) => Option.isNone(expectedDigest) || expectedDigest.value === checked.digest,
              (checked) =>
                new BundlePointerMismatch({
                  pointer: Option.getOrElse(expectedDigest, () => ""),
                  actual: checked.digest,
                }),
            ),
            Effect.matchEffect({
              onFailure: (error) =>
                reject(
                  error,
                  Option.getOrElse(expectedDigest, () => checked(bytes)),
                  origin,
                ),
              onSuccess: (ok) => activate(ok, origin),
            }),
          )

        /**
         * Raises the own floor to the fleet floor when the bundle it names is signed by a trusted
         * key and carries that serial; a record that is lower, missing or unvouched changes nothing.
         */
        const learnFloor = Effect.gen(function* () {
          const record = yield* store.readFloor
          if (Option.isNone(record) || record.value.serial <= (yield* Ref.get(floor))) return
          const { serial, digest } = record.value
          const bytes = yield* store.readBundle(digest)
          const vouched = Option.isSome(bytes)
            ? yield* verifyHeader(bytes.value, config.trusted).pipe(
                Effect.map((header) => header.serial === serial && header.digest === digest),
                Effect.orElseSucceed(() => false),
              )
            : false
          if (!vouched) {
            yield* Effect.logWarning("fleet floor record not vouched for by a signed bundle; ignored").pipe(
              Effect.annotateLogs({ serial, digest }),
            )
            return
          }
          const before = yield* Ref.getAndUpdate(floor, (f) => Math.max(f, serial))
          if (serial > before)
            yield* Effect.logInfo("anti-rollback floor raised from the fleet record").pipe(
              Effect.annotateLogs({ from: before, to: serial }),
            )
        })

        const fromRedis: Effect.Effect<RefreshOutcome, never> = Effect.gen(function* () {
          yield* learnFloor
          const pointer = yield* store.readCurrent
          if (Option.isNone(pointer)) return { _tag: "Empty" } as const
          const { digest, serial } = pointer.value
          const current = yield* SubscriptionRef.get(active)
          if (Option.isSome(current) && current.value.digest === digest)
            return { _tag: "Unchanged", serial } as const
          if (refused.has(digest)) return { _tag: "Refused", reason: "seen", digest, repeated: true } as const
          const bytes = yield* store.readBundle(digest)
          if (Option.isNone(bytes)) return yield* reject(new BundleMissing({ digest }), digest, "redis")
          return yield* consider(bytes.value, Option.some(digest), "redis")
        }).pipe(
          Effect.tap(() =>
            Ref.getAndSet(redisHealthy, true).pipe(
              Effect.flatMap((was) => (was ? Effect.void : Effect.logInfo("policy store reachable again"))),
            ),
          ),
          Effect.catchTags({
            PointerMalformed: (error) => reject(error, "pointer", "redis"),
            RedisCommandError: (error) =>
              Effect.gen(function* () {
                yield* Metric.increment(metrics.fetchFailures)
                const was = yield* Ref.getAndSet(redisHealthy, false)
                if (was)
                  yield* Effect.logWarning("policy store unreachable; keeping the active bundle").pipe(
                    Effect.annotateLogs({ error: error.detail }),
                  )
                return { _tag: "Unavailable", detail: error.detail } as const
              }),
          }),
        )

        const refresh = lock.withPermits(1)(fromRedis).pipe(Effect.withSpan("ActivePolicy.refresh"))

        // Start: disk first (it sets the anti-rollback floor), then Redis if newer.
        const saved = yield* lastKnownGood.read
        if (Option.isSome(saved)) yield* consider(saved.value, Option.none(), "last-known-good")
        const started = yield* refresh.pipe(
          Effect.timeoutTo({
            duration: config.startTimeout,
            onTimeout: (): RefreshOutcome => ({ _tag: "Unavailable", detail: "start-up read timed out" }),
            onSuccess: (outcome) => outcome,
          }),
        )
        if (started._tag === "Empty" && Option.isNone(saved))
          yield* Effect.logWarning(
            "no policy bundle in Redis or on disk yet; not ready until one is published",
          )

        const onNotice = store.announcements.pipe(
          Stream.runForEach(() => refresh),
          Effect.catchAll((error) => Effect.logWarning("policy notice subscription failed", error)),
          Effect.repeat(Schedule.spaced("1 second")),
        )
        yield* Effect.forkScoped(onNotice)
        yield* Effect.forkScoped(Effect.repeat(refresh, Schedule.spaced(config.pollInterval)))

        return {
          current: SubscriptionRef.get(active),
          changes: active.changes.pipe(Stream.filterMap((b) => b)),
          activations: Stream.fromPubSub(activationHub),
          refresh,
          rejectCounts: Ref.get(counts),
          floor: Ref.get(floor),
          supportedSchemas: config.supportedSchemas,
        }
      }),
    )
}

/** Digest named in refused bytes, for logs and the refused set (bytes may be garbage). */
const checked = (bytes: string): string => {
  try {
    const stated = (JSON.parse(bytes) as { digest?: unknown }).digest
    return typeof stated === "string" ? stated : "unparseable"
  } catch {
    return "unparseable"
  }
}
