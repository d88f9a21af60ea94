/**
 * Per-address limits on a listener's connections, as Postfix's anvil (`smtpd_client_connection_
 * count_limit`, `smtpd_client_connection_rate_limit`): at most `maxConcurrent` sessions open from
 * one client address, and at most `maxPerMinute` new sessions from it in any 60 s. A connection
 * over either gets `421 4.7.0` and is closed before the greeting — the client retries later, and
 * one noisy address cannot take the listener's `maxClients` from everyone else. IPv4-mapped IPv6
 * counts as the IPv4 address. In memory, per process (each relay protects its own sockets).
 *
 * Trusts: nothing. Touches: nothing outside its memory. Time: the Effect `Clock`.
 */
import { Clock, Effect } from "effect"
import { normalizeAddress } from "./auth-throttle"
import { type Refusal, refusal } from "./replies"

export interface ClientLimitsConfig {
  /** Sessions open at once per address; 0: no limit. */
  readonly maxConcurrent: number
  /** New sessions per address in any 60 s; 0: no limit. */
  readonly maxPerMinute: number
}

export interface ClientLimits {
  /** Counts the session in, or says why not (nothing is counted then). */
  readonly admit: (sessionId: string, address: string) => Effect.Effect<Refusal | undefined>
  /** The session ended (harmless for one that was never admitted). */
  readonly release: (sessionId: string) => void
}

const WINDOW_MS = 60_000
/** Addresses whose recent connections are remembered; beyond it the oldest are forgotten. */
const MAX_ADDRESSES = 100_000

export const makeClientLimits = (config: ClientLimitsConfig): ClientLimits => {
  const open = new Map<string, number>()
  const sessions = new Map<string, string>()
  const recent = new Map<string, Array<number>>()
  return {
    admit: (sessionId, raw) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const address = normalizeAddress(raw)
        if (config.maxConcurrent > 0 && (open.get(address) ?? 0) >= config.maxConcurrent)
          return refusal(
            421,
            "4.7.0",
            "Too many connections from your address, try again later",
            "client-limit",
          )
        if (config.maxPerMinute > 0) {
          const times = (recent.get(address) ?? []).filter((t) => t > now - WINDOW_MS && t <= now)
          if (times.length >= config.maxPerMinute) {
            recent.set(address, times)
            return refusal(
              421,
              "4.7.0",
              "Too many connections from your address, try again later",
              "client-limit",
            )
          }
          times.push(now)
          recent.delete(address)
          recent.set(address, times)
          if (recent.size > MAX_ADDRESSES) recent.delete(recent.keys().next().value as string)
        }
        open.set(address, (open.get(address) ?? 0) + 1)
        sessions.set(sessionId, address)
        return undefined
      }),
    release: (sessionId) => {
      const address = sessions.get(sessionId)
      if (address === undefined) return
      sessions.delete(sessionId)
      const left = (open.get(address) ?? 1) - 1
      if (left <= 0) open.delete(address)
      else open.set(address, left)
    },
  }
}
