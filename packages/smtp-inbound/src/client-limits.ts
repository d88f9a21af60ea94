/**
 * Per-address limits on a listener's connections, as Postfix's anvil (`smtpd_client_connection_
 * count_limit`, `smtpd_client_connection_rate_limit`): at most `maxConcurrent` sessions open from
 * one client address, and at most `maxPerMinute` new sessions from it in any 60 s. A connection
 * over either gets `421 4.7.0` and is closed before the greeting — the client retries later, and
 * one noisy address cannot take the listener's `maxClients` from everyone else. IPv4-mapped IPv6
 * counts as the IPv4 address. Within sessions, at most `messagesPerMinute` MAIL FROM and
 * `recipientsPerMinute` RCPT TO per address in any 60 s (`smtpd_client_message_rate_limit`,
 * `smtpd_client_recipient_rate_limit`): over them the command gets `450 4.7.1` and the session
 * stays open, so one address cannot turn many sessions' worth of commands into mail.
 * In memory, per process (each relay protects its own sockets).
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
  /** MAIL FROM per address in any 60 s, over all its sessions; 0 or absent: no limit. */
  readonly messagesPerMinute?: number
  /** RCPT TO per address in any 60 s, over all its sessions; 0 or absent: no limit. */
  readonly recipientsPerMinute?: number
}

/** A command whose rate per address is limited. */
export type ClientEvent = "message" | "recipient"

export interface ClientLimits {
  /** Counts the session in, or says why not (nothing is counted then). */
  readonly admit: (sessionId: string, address: string) => Effect.Effect<Refusal | undefined>
  /** The session ended (harmless for one that was never admitted). */
  readonly release: (sessionId: string) => void
  /** Whether `event` is limited at all. */
  readonly limits: (event: ClientEvent) => boolean
  /** Counts one `event` from the address, or says why not (nothing is counted then). */
  readonly count: (event: ClientEvent, address: string) => Effect.Effect<Refusal | undefined>
}

const WINDOW_MS = 60_000
/** Addresses whose recent connections are remembered; beyond it the oldest are forgotten. */
const MAX_ADDRESSES = 100_000

/**
 * Events per key in a sliding 60 s window: `hit` counts one and says true, or says false at the
 * limit (counting nothing). At most MAX_ADDRESSES keys; beyond, the least recently seen go.
 */
const makeWindow = (limit: number) => {
  const recent = new Map<string, Array<number>>()
  return (key: string, now: number): boolean => {
    const times = (recent.get(key) ?? []).filter((t) => t > now - WINDOW_MS && t <= now)
    const allowed = times.length < limit
    if (allowed) times.push(now)
    recent.delete(key)
    recent.set(key, times)
    if (recent.size > MAX_ADDRESSES) recent.delete(recent.keys().next().value as string)
    return allowed
  }
}

const overRate: Record<ClientEvent, Refusal> = {
  message: refusal(450, "4.7.1", "Too many messages from your address, try again later", "client-limit"),
  recipient: refusal(450, "4.7.1", "Too many recipients from your address, try again later", "client-limit"),
}

export const makeClientLimits = (config: ClientLimitsConfig): ClientLimits => {
  const open = new Map<string, number>()
  const sessions = new Map<string, string>()
  const connections = makeWindow(config.maxPerMinute)
  const rates: Partial<Record<ClientEvent, (key: string, now: number) => boolean>> = {
    ...((config.messagesPerMinute ?? 0) > 0 ? { message: makeWindow(config.messagesPerMinute ?? 0) } : {}),
    ...((config.recipientsPerMinute ?? 0) > 0
      ? { recipient: makeWindow(config.recipientsPerMinute ?? 0) }
      : {}),
  }
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
        if (config.maxPerMinute > 0 && !connections(address, now))
          return refusal(
            421,
            "4.7.0",
            "Too many connections from your address, try again later",
            "client-limit",
          )
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
    limits: (event) => rates[event] !== undefined,
    count: (event, raw) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const hit = rates[event]
        return hit === undefined || hit(normalizeAddress(raw), now) ? undefined : overRate[event]
      }),
  }
}
