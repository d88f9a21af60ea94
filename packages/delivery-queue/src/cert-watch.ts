/**
 * The certificate watch: the certificate each partner's server presented last (from the TLS
 * evidence of deliveries), and when it changed, with the diagnosis an operator needs — renewed
 * with the same key (pins stay valid), a new key (pins must change), a new issuer (a new CA or a
 * new provider). One entry per partner and server: a partner with two MX hosts holding different
 * certificates does not "change" on every delivery. Written inside the delivery statistics'
 * script (`stats.ts › RECORD`), so it costs no extra round trip; kept 30 days after the last sighting.
 *
 * Keys, under each queue shard's tag like the rest of the statistics (`{mc}`, `{mc:1}`…):
 * `watch:cert:<partner>|<server>` hash (`pin`, `issuer`, `notAfter`, `observed` JSON,
 * `firstSeen`, `lastSeen`, and after a change `change`, `changedAt`, `previous` JSON);
 * `watch:certs` set of `<partner>|<server>`. Each shard watches the deliveries of its own mail;
 * a read merges a server's entries (`mergeWatched`).
 */
import { Schema } from "effect"

export const WATCH_TTL_S = 30 * 86_400

/** The certificate seen: what the evidence keeps of the peer. */
export const ObservedCertificate = Schema.Struct({
  subject: Schema.String,
  issuer: Schema.String,
  notAfter: Schema.String,
  spkiPin: Schema.String,
})
export type ObservedCertificate = typeof ObservedCertificate.Type

export type CertificateChange = "renewed-same-key" | "new-key" | "new-issuer"

export interface WatchedCertificate {
  readonly partner: string
  readonly server: string
  readonly certificate: ObservedCertificate
  readonly firstSeen: number
  readonly lastSeen: number
  readonly change?: {
    readonly kind: CertificateChange
    readonly at: number
    readonly previous: ObservedCertificate | undefined
  }
}

/**
 * Same pin, issuer and expiry: only `lastSeen` moves. Otherwise the new certificate replaces the
 * old one, and (if there was one) the change is diagnosed. An observation older than the one kept
 * (a worker that wrote late) changes nothing.
 * KEYS: entry hash, set. ARGV: pin, issuer, notAfter, observed JSON, at, member, ttl.
 */
export const WATCH_LUA = `
local cur = redis.call('HMGET', KEYS[1], 'pin', 'issuer', 'notAfter', 'lastSeen')
if cur[4] and tonumber(cur[4]) > tonumber(ARGV[5]) then return 0 end
redis.call('SADD', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[7])
if cur[1] == ARGV[1] and cur[2] == ARGV[2] and cur[3] == ARGV[3] then
  redis.call('HSET', KEYS[1], 'lastSeen', ARGV[5])
  redis.call('EXPIRE', KEYS[1], ARGV[7])
  return 0
end
if cur[1] then
  local kind = 'new-issuer'
  if cur[1] == ARGV[1] then kind = 'renewed-same-key' elseif cur[2] == ARGV[2] then kind = 'new-key' end
  redis.call('HSET', KEYS[1], 'previous', redis.call('HGET', KEYS[1], 'observed'), 'change', kind, 'changedAt', ARGV[5])
else
  redis.call('HSET', KEYS[1], 'firstSeen', ARGV[5])
end
redis.call('HSET', KEYS[1], 'pin', ARGV[1], 'issuer', ARGV[2], 'notAfter', ARGV[3], 'observed', ARGV[4], 'lastSeen', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[7])
return 1
`

const decode = Schema.decodeUnknownOption(Schema.parseJson(ObservedCertificate))
const CHANGES: ReadonlyArray<CertificateChange> = ["renewed-same-key", "new-key", "new-issuer"]

/** An entry's hash as the watch's read model; undefined when it is not one. */
export const watchedFrom = (
  member: string,
  hash: Readonly<Record<string, string>>,
): WatchedCertificate | undefined => {
  const bar = member.indexOf("|")
  const observed = hash.observed === undefined ? undefined : decode(hash.observed)
  if (bar < 0 || observed === undefined || observed._tag === "None") return undefined
  const previous = hash.previous === undefined ? undefined : decode(hash.previous)
  const kind = CHANGES.find((c) => c === hash.change)
  return {
    partner: member.slice(0, bar),
    server: member.slice(bar + 1),
    certificate: observed.value,
    firstSeen: Number(hash.firstSeen ?? hash.lastSeen ?? 0),
    lastSeen: Number(hash.lastSeen ?? 0),
    ...(kind
      ? {
          change: {
            kind,
            at: Number(hash.changedAt ?? 0),
            previous: previous?._tag === "Some" ? previous.value : undefined,
          },
        }
      : {}),
  }
}

const sameCertificate = (a: ObservedCertificate, b: ObservedCertificate) =>
  a.spkiPin === b.spkiPin && a.issuer === b.issuer && a.notAfter === b.notAfter

/** What changed from `previous` to `current`, diagnosed as `WATCH_LUA` does. */
export const changeOf = (previous: ObservedCertificate, current: ObservedCertificate): CertificateChange =>
  previous.spkiPin === current.spkiPin
    ? "renewed-same-key"
    : previous.issuer === current.issuer
      ? "new-key"
      : "new-issuer"

/**
 * One server's entries from every shard (each shard watches the deliveries of its own mail) as
 * one: the certificate seen last, the server's first sighting in any shard, and the change to it
 * at its earliest sighting in any shard. A shard that recorded the change itself gives its
 * diagnosis; when none did (one shard saw only the old certificate, another only the new one) the
 * change is diagnosed here from the newest old one. A shard still holding an older certificate
 * than the one seen last does not make it current again.
 */
export const mergeWatched = (entries: ReadonlyArray<WatchedCertificate>): WatchedCertificate | undefined => {
  const newest = entries.reduce<WatchedCertificate | undefined>(
    (kept, e) => (kept === undefined || e.lastSeen > kept.lastSeen ? e : kept),
    undefined,
  )
  if (newest === undefined) return undefined
  const current = entries.filter((e) => sameCertificate(e.certificate, newest.certificate))
  const older = entries
    .filter((e) => !sameCertificate(e.certificate, newest.certificate))
    .sort((a, b) => b.lastSeen - a.lastSeen)[0]
  const recorded = current.flatMap((e) => (e.change ? [e.change] : [])).sort((a, b) => a.at - b.at)[0]
  const diagnosed =
    recorded ??
    (older
      ? { kind: changeOf(older.certificate, newest.certificate), previous: older.certificate }
      : undefined)
  return {
    partner: newest.partner,
    server: newest.server,
    certificate: newest.certificate,
    firstSeen: Math.min(...entries.map((e) => e.firstSeen)),
    lastSeen: newest.lastSeen,
    ...(diagnosed
      ? {
          change: {
            kind: diagnosed.kind,
            // A shard that never saw the old certificate saw the new one first at its firstSeen.
            at: Math.min(...current.map((e) => e.change?.at ?? e.firstSeen)),
            previous: diagnosed.previous,
          },
        }
      : {}),
  }
}
