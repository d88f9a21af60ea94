/**
 * Destinations (DESIGN §5 "destination actors"): one unit per *resolved* next hop — host, address,
 * port, TLS policy, accepted names and client certificate — owning its concurrency limit, its cache
 * of verified sessions (with their TLS tickets) and its circuit breaker.
 *
 * The cache is an `RcMap` entry: alive while a delivery uses it and for `idleTimeoutMs` after,
 * then its scope closes and every idle session gets QUIT. Breakers outlive that: after `threshold`
 * consecutive connect/TLS failures a destination refuses attempts (`CircuitOpen`, carrying the
 * failure that opened it) until the cooldown has passed; then one attempt probes. A new policy for
 * a partner (`resetPartner`, before the targeted flush) closes the breakers its mail used. A policy
 * change of the TLS settings or names makes a new key anyway: it is never judged by the old one.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import { Clock, Context, Effect, Layer, RcMap, type Scope } from "effect"
import { type AttemptFailure, CircuitOpen, type DeliveryError } from "./errors"
import type { TlsEvidence } from "./evidence"
import { OutboundConfig } from "./options"
import { type OpenSession, quitSession, type SavedTlsSession } from "./socket-steps"

export interface DestinationsConfig {
  readonly perDestination: number
  readonly breakerThreshold: number
  readonly breakerCooldownMs: number
  /** Messages one session may carry; 1 disables the cache. */
  readonly maxMessagesPerConnection: number
  readonly idleTimeoutMs: number
}

/** Failures that say "this destination is unusable right now", as opposed to one message's fate. */
const BREAKER_CODES: ReadonlySet<FailureCode> = new Set<FailureCode>([
  "CONNECT_REFUSED",
  "CONNECT_TIMEOUT",
  "PRE_TLS_REFUSED",
  "STARTTLS_NOT_OFFERED",
  "TLS_PROTOCOL_REJECTED",
  "TLS_HANDSHAKE_FAILED",
  "CERT_UNTRUSTED",
  "CERT_EXPIRED",
  "CERT_NAME_MISMATCH",
  "CERT_PIN_MISMATCH",
  "CLIENT_CERT_REJECTED",
])

/** Destinations remembered at most; healthy idle ones are forgotten first (a key per policy version). */
const MAX_BREAKERS = 10_000

const forgetHealthy = (breakers: Map<string, Breaker>) => {
  for (const [key, breaker] of breakers)
    if (breaker.inFlight === 0 && breaker.consecutiveFailures === 0) breakers.delete(key)
}

export interface CachedSession {
  readonly session: OpenSession
  readonly tls: TlsEvidence | undefined
  messages: number
}

/** What one delivery attempt gets from its destination. */
export interface Destination {
  /** A verified session cached by an earlier delivery, still open. */
  readonly takeSession: Effect.Effect<CachedSession | undefined>
  /** Back to the cache after a message, or QUIT when spent. */
  readonly giveSession: (cached: CachedSession) => Effect.Effect<void>
  /** QUIT: the session must not carry another message. */
  readonly discard: (cached: CachedSession) => void
  readonly ticket: () => SavedTlsSession | undefined
  readonly rememberTicket: (saved: SavedTlsSession) => void
}

export interface DestinationState {
  readonly key: string
  readonly inFlight: number
  readonly consecutiveFailures: number
  readonly openUntil: number | undefined
  readonly lastFailure: FailureCode | undefined
}

interface Breaker {
  inFlight: number
  consecutiveFailures: number
  openUntil: number | undefined
  last: Exclude<DeliveryError, CircuitOpen> | undefined
  /** Partners whose mail went to this destination. */
  readonly partners: Set<string>
}

interface Resource {
  readonly semaphore: Effect.Semaphore
  readonly destination: Destination
}

const makeResource = (config: DestinationsConfig): Effect.Effect<Resource, never, Scope.Scope> =>
  Effect.gen(function* () {
    const idle: Array<CachedSession> = []
    let ticket: SavedTlsSession | undefined
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        for (const cached of idle.splice(0)) quitSession(cached.session)
      }),
    )
    const destination: Destination = {
      takeSession: Effect.sync(() => {
        for (let cached = idle.pop(); cached; cached = idle.pop()) {
          if (!cached.session.closed && !cached.session.lastError) return cached
          quitSession(cached.session)
        }
        return undefined
      }),
      giveSession: (cached) =>
        Effect.sync(() => {
          if (closed || cached.messages >= config.maxMessagesPerConnection) quitSession(cached.session)
          else idle.push(cached)
        }),
      discard: (cached) => quitSession(cached.session),
      ticket: () => ticket,
      rememberTicket: (saved) => {
        ticket = saved
      },
    }
    return { semaphore: yield* Effect.makeSemaphore(config.perDestination), destination }
  })

export interface DestinationsShape {
  /**
   * Runs one attempt against the destination `key`: refused at once while its breaker is open,
   * else within its concurrency limit; the outcome feeds the breaker.
   */
  readonly run: <A>(
    key: string,
    partner: string | undefined,
    attempt: (destination: Destination) => Effect.Effect<A, AttemptFailure>,
  ) => Effect.Effect<A, AttemptFailure>
  /** Closes the breakers of the destinations `partner`'s mail used; returns their keys. */
  readonly resetPartner: (partner: string) => Effect.Effect<ReadonlyArray<string>>
  readonly states: Effect.Effect<ReadonlyArray<DestinationState>>
}

export const makeDestinations = (config: DestinationsConfig) =>
  Effect.gen(function* () {
    const resources = yield* RcMap.make({
      lookup: (_key: string) => makeResource(config),
      idleTimeToLive: config.idleTimeoutMs,
    })
    const breakers = new Map<string, Breaker>()
    const breakerFor = (key: string): Breaker => {
      let breaker = breakers.get(key)
      if (!breaker) {
        if (breakers.size >= MAX_BREAKERS) forgetHealthy(breakers)
        breaker = {
          inFlight: 0,
          consecutiveFailures: 0,
          openUntil: undefined,
          last: undefined,
          partners: new Set(),
        }
        breakers.set(key, breaker)
      }
      return breaker
    }

    const record = (breaker: Breaker, error: DeliveryError | undefined, at: number) => {
      if (error === undefined) {
        breaker.consecutiveFailures = 0
        breaker.openUntil = undefined
        return
      }
      if (error._tag === "CircuitOpen" || !BREAKER_CODES.has(error.code)) return
      breaker.consecutiveFailures++
      breaker.last = error
      if (breaker.consecutiveFailures >= config.breakerThreshold)
        breaker.openUntil = at + config.breakerCooldownMs
    }

    const run: DestinationsShape["run"] = (key, partner, attempt) =>
      Effect.gen(function* () {
        const breaker = breakerFor(key)
        if (partner !== undefined) breaker.partners.add(partner)
        const now = yield* Clock.currentTimeMillis
        if (breaker.openUntil !== undefined && now < breaker.openUntil && breaker.last) {
          const open = new CircuitOpen({
            server: breaker.last.server,
            phase: breaker.last.phase,
            detail: `circuit open until ${new Date(breaker.openUntil).toISOString()} after ${breaker.consecutiveFailures} consecutive failures; last: ${breaker.last.detail}`,
            attempts: [],
            openUntil: breaker.openUntil,
            consecutiveFailures: breaker.consecutiveFailures,
            lastFailure: breaker.last,
          })
          return yield* Effect.fail({ error: open, tls: undefined })
        }
        const { semaphore, destination } = yield* RcMap.get(resources, key)
        breaker.inFlight++
        const result = yield* semaphore
          .withPermits(1)(attempt(destination))
          .pipe(Effect.ensuring(Effect.sync(() => breaker.inFlight--)), Effect.either)
        record(
          breaker,
          result._tag === "Left" ? result.left.error : undefined,
          yield* Clock.currentTimeMillis,
        )
        return yield* result
      }).pipe(Effect.scoped)

    const resetPartner = (partner: string) =>
      Effect.sync(() => {
        const reset: Array<string> = []
        for (const [key, breaker] of breakers) {
          if (!breaker.partners.has(partner)) continue
          breaker.consecutiveFailures = 0
          breaker.openUntil = undefined
          breaker.last = undefined
          reset.push(key)
        }
        return reset
      })

    const states = Effect.sync(() =>
      [...breakers].map(([key, b]) => ({
        key,
        inFlight: b.inFlight,
        consecutiveFailures: b.consecutiveFailures,
        openUntil: b.openUntil,
        lastFailure: b.last?.code,
      })),
    )
    return { run, resetPartner, states } satisfies DestinationsShape
  })

export class Destinations extends Context.Tag("@mailconnect/Destinations")<
  Destinations,
  DestinationsShape
>() {
  /** Scoped: closing it closes every destination's cached sessions (QUIT). */
  static readonly layer = (config: DestinationsConfig) => Layer.scoped(Destinations, makeDestinations(config))
  /** With the limits of the relay's outbound settings. */
  static readonly layerFromConfig = Layer.scoped(
    Destinations,
    Effect.flatMap(OutboundConfig, (settings) => makeDestinations(settings)),
  )
}
