/**
 * A bounded cache of successful password verifications, so a client that opens a connection per
 * message does not cost a scrypt (~25 ms CPU) per login. Dovecot's `auth_cache` does the same.
 *
 * An entry is an HMAC (key: random per process, never stored) of the user name, the user's
 * stored hash and the password: nothing in it reveals a password or can be used elsewhere.
 * Because the stored hash is part of the entry, a password change (new salt, new hash) misses
 * at once, and a removed user never gets here (the directory is asked first). Only successes are
 * kept: a wrong password always runs the full scrypt (and the AUTH throttle). Entries expire
 * after `ttlMs` (time from the Effect `Clock`) and the oldest go first beyond `maxEntries`.
 *
 * Trusts: nothing. Touches: nothing outside its memory.
 */
import { createHmac, randomBytes } from "node:crypto"
import { Clock, Effect } from "effect"

export interface VerificationCacheOptions {
  readonly maxEntries: number
  readonly ttlMs: number
}

export interface VerificationCache {
  /** True when this exact name, stored hash and password were verified within the TTL. */
  readonly knows: (name: string, storedHash: string, password: string) => Effect.Effect<boolean>
  readonly remember: (name: string, storedHash: string, password: string) => Effect.Effect<void>
  readonly size: () => number
}

export const makeVerificationCache = (options: VerificationCacheOptions): VerificationCache => {
  const key = randomBytes(32)
  // Insertion order is age order: a Map re-inserted on remember keeps the oldest first.
  const entries = new Map<string, number>()
  const entryOf = (name: string, storedHash: string, password: string) =>
    createHmac("sha256", key)
      .update(name)
      .update("\0")
      .update(storedHash)
      .update("\0")
      .update(password)
      .digest("base64")
  return {
    knows: (name, storedHash, password) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entry = entryOf(name, storedHash, password)
        const expires = entries.get(entry)
        if (expires === undefined) return false
        if (expires > now) return true
        entries.delete(entry)
        return false
      }),
    remember: (name, storedHash, password) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (options.maxEntries <= 0) return
        const entry = entryOf(name, storedHash, password)
        entries.delete(entry)
        entries.set(entry, now + options.ttlMs)
        while (entries.size > options.maxEntries) entries.delete(entries.keys().next().value as string)
      }),
    size: () => entries.size,
  }
}
