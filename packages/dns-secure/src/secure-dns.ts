/**
 * `SecureDns`: DNS lookups that say whether the answer was DNSSEC-validated — the lookups DANE
 * (RFC 7672) is built on. It validates nothing itself: like Postfix (`smtp_dns_support_level =
 * dnssec`), it asks a validating resolver with RD and DO and believes that resolver's AD bit.
 *
 * Trusts: the AD bit, rcode and records of the configured resolvers — so they must be local
 * validating resolvers reached over a path no one else can write to (loopback, as an unbound on
 * the relay's host). Anyone who can answer in their place can claim "secure".
 * Guards against off-path forgers: a random id and source port per query, a socket connected to
 * the resolver, and an answer taken only when its id, QR, opcode and question match the query.
 * Touches: UDP and TCP to the configured resolvers only; nothing else, no files.
 */
import { getServers } from "node:dns"
import { Context, type Duration, Effect, Layer } from "effect"
import {
  type AddressAnswer,
  addressRecord,
  byPreference,
  type DnsAnswer,
  type MxRecord,
  mxRecord,
  type TlsaRecord,
  tlsaRecord,
  txtRecord,
} from "./answer"
import { makeAnswerCache } from "./cache"
import { DnsServerInvalid, type SecureDnsError } from "./errors"
import type { LookupOptions } from "./lookup"
import { UDP_PAYLOAD_SIZE } from "./message"
import { resolve } from "./resolve"
import { type DnsServer, parseServer, splitServerList } from "./servers"

export interface SecureDnsShape {
  /** MX records by preference. */
  readonly mx: (name: string) => Effect.Effect<DnsAnswer<MxRecord>, SecureDnsError>
  /** A and AAAA, asked at once; secure only if both answers are. */
  readonly addresses: (name: string) => Effect.Effect<AddressAnswer, SecureDnsError>
  /** TLSA at the owner name as given, e.g. `tlsaName("mx.example.com", 25)`. */
  readonly tlsa: (name: string) => Effect.Effect<DnsAnswer<TlsaRecord>, SecureDnsError>
  readonly txt: (name: string) => Effect.Effect<DnsAnswer<string>, SecureDnsError>
}

export interface SecureDnsOptions {
  /** Per exchange with one server; default 2 s. */
  readonly timeout?: Duration.DurationInput
  /** Rounds over the servers that did not answer; default 2 (one retry). */
  readonly attempts?: number
  /** The EDNS0 UDP payload size offered; default 1232. */
  readonly udpPayloadSize?: number
  /** Answers are kept for their TTL, at most this many seconds; default 300, 0: not kept. */
  readonly cacheMaxTtlSeconds?: number
}

const lookupOptions = (options: SecureDnsOptions): LookupOptions => ({
  timeout: options.timeout ?? "2 seconds",
  attempts: Math.max(1, options.attempts ?? 2),
  udpPayloadSize: options.udpPayloadSize ?? UDP_PAYLOAD_SIZE,
})

export const makeSecureDns = (
  servers: ReadonlyArray<DnsServer>,
  options: SecureDnsOptions = {},
): SecureDnsShape => {
  const settings = lookupOptions(options)
  const cache = makeAnswerCache(options.cacheMaxTtlSeconds ?? 300)
  const key = (type: string, name: string) => `${type} ${name.toLowerCase().replace(/\.$/, "")}`
  return {
    mx: Effect.fnUntraced(function* (name: string) {
      return yield* cache.through(
        key("MX", name),
        Effect.map(resolve(servers, settings, name, "MX", mxRecord), (answer) => ({
          ...answer,
          records: [...answer.records].sort(byPreference),
        })),
      )
    }),
    addresses: Effect.fnUntraced(function* (name: string) {
      return yield* cache.through(key("A/AAAA", name), addressesOf(name))
    }),
    tlsa: Effect.fnUntraced(function* (name: string) {
      return yield* cache.through(key("TLSA", name), resolve(servers, settings, name, "TLSA", tlsaRecord))
    }),
    txt: Effect.fnUntraced(function* (name: string) {
      return yield* cache.through(key("TXT", name), resolve(servers, settings, name, "TXT", txtRecord))
    }),
  }

  function addressesOf(name: string): Effect.Effect<AddressAnswer, SecureDnsError> {
    return Effect.gen(function* () {
      const [ipv4, ipv6] = yield* Effect.all(
        [
          resolve(servers, settings, name, "A", addressRecord),
          resolve(servers, settings, name, "AAAA", addressRecord),
        ],
        { concurrency: 2 },
      )
      const records = [...ipv4.records, ...ipv6.records]
      const answer: AddressAnswer = {
        name: ipv4.name,
        canonicalName: ipv4.canonicalName,
        status:
          records.length > 0
            ? "records"
            : ipv4.status === "nxdomain" && ipv6.status === "nxdomain"
              ? "nxdomain"
              : "nodata",
        secure: ipv4.secure && ipv6.secure,
        records,
        ttl: Math.min(ipv4.ttl, ipv6.ttl),
        server: ipv4.server,
        ipv4,
        ipv6,
      }
      return answer
    })
  }
}

const parseServers = (
  entries: ReadonlyArray<string>,
): Effect.Effect<ReadonlyArray<DnsServer>, DnsServerInvalid> =>
  Effect.forEach(entries, (entry) => {
    const parsed = parseServer(entry)
    return parsed instanceof DnsServerInvalid ? Effect.fail(parsed) : Effect.succeed(parsed)
  })

export class SecureDns extends Context.Tag("@mailconnect/SecureDns")<SecureDns, SecureDnsShape>() {
  /** `servers`: `ip`, `ip:port` or `[ipv6]:port` entries, asked in this order (none: `DnsServerInvalid` of `""`). */
  static readonly layer = (servers: ReadonlyArray<string>, options: SecureDnsOptions = {}) =>
    Layer.effect(
      SecureDns,
      Effect.gen(function* () {
        if (servers.length === 0) return yield* new DnsServerInvalid({ entry: "" })
        return makeSecureDns(yield* parseServers(servers), options)
      }),
    )

  /**
   * From `RELAY_DNS_SERVERS` (comma or space separated), the variable smtp-outbound's
   * `DnsResolver` reads; unset or empty: the system's resolvers (/etc/resolv.conf), which must
   * then be a local validating resolver for anything to come back secure.
   */
  static readonly layerFromEnv = Layer.suspend(() => {
    const configured = splitServerList(process.env.RELAY_DNS_SERVERS ?? "")
    return SecureDns.layer(configured.length > 0 ? configured : getServers())
  })
}
