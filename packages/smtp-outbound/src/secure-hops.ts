/**
 * Next hops from DNSSEC-aware DNS, for DANE (RFC 7672 §2.2): the MX RRset, each host's addresses,
 * and — when the MX RRset (or, without MX, the domain's own address records) validated — each
 * host's TLSA RRset at `_<port>._tcp.<host>`. What the validating resolver says is taken as it is
 * (the `ValidatingDns` port); this module only decides what it means for delivery:
 *
 *  - a bogus MX answer defers the delivery (`DnssecBogus`): a forger must not be able to
 *    downgrade a DANE domain by breaking its signatures;
 *  - a bogus or failed TLSA answer makes that host unusable (skipped, like Postfix); when every
 *    host is, the delivery defers with that cause;
 *  - TLSA records are looked up only for a host whose MX and address records both validated;
 *  - a secure TLSA RRset with records makes that host DANE-authenticated (even if none of the
 *    records is usable: then TLS is still mandatory, RFC 7672 §2.2); an insecure one or a secure
 *    denial leaves the host to the next policy source.
 */
import type { TlsaRecord } from "@mailconnect/x509"
import { Effect } from "effect"
import { DnsNoRoute, DnssecBogus } from "./errors"
import type { NextHop } from "./next-hops"
import {
  type LookupFailure,
  type TlsaAnswerRecord,
  tlsaOwner,
  type ValidatedAnswer,
  type ValidatingDns,
} from "./standards"

export interface SecureHop extends NextHop {
  /** The host's validated TLSA records; undefined: no DANE for this host. */
  readonly tlsa: ReadonlyArray<TlsaRecord> | undefined
}

export interface SecureHops {
  readonly hops: ReadonlyArray<SecureHop>
  /** The MX RRset (or the implicit MX's addresses) validated. */
  readonly secure: boolean
}

const bogus = (domain: string, name: string, type: "MX" | "A" | "AAAA" | "TLSA", detail: string) =>
  new DnssecBogus({ server: domain, phase: "dns", detail, attempts: [], name, type })

const noRoute = (domain: string, reason: "no-mx-or-address" | "lookup-failed" | "null-mx", detail: string) =>
  new DnsNoRoute({ server: domain, phase: "dns", detail, attempts: [], domain, reason })

const lookupError =
  (domain: string, name: string, type: "MX" | "A" | "AAAA" | "TLSA") => (e: LookupFailure) =>
    e._tag === "Bogus"
      ? bogus(domain, name, type, `${type} ${name}: the validating resolver found the answer bogus`)
      : noRoute(domain, "lookup-failed", `${type} ${name}: ${e.detail}`)

const tlsaOf = (answer: ValidatedAnswer<TlsaAnswerRecord>): ReadonlyArray<TlsaRecord> | undefined =>
  answer.secure && answer.status === "records"
    ? answer.records.map((r) => ({
        usage: r.usage,
        selector: r.selector,
        matchingType: r.matchingType,
        data: r.data,
      }))
    : undefined

export const resolveSecureHops = (
  dns: ValidatingDns,
  domain: string,
  mxPort: number,
): Effect.Effect<SecureHops, DnsNoRoute | DnssecBogus> =>
  Effect.gen(function* () {
    const mx = yield* dns.mx(domain).pipe(Effect.mapError(lookupError(domain, domain, "MX")))
    if (mx.status === "records" && mx.records.length === 1 && mx.records[0]?.exchange === ".")
      return yield* noRoute(domain, "null-mx", `${domain} publishes a null MX (RFC 7505)`)
    const implicit = mx.status !== "records"
    const candidates = implicit
      ? [{ host: domain, preference: 0, source: "implicit-mx" as const }]
      : mx.records.map((r) => ({ host: r.exchange, preference: r.preference, source: "mx" as const }))
    let secure = mx.secure
    const hops: Array<SecureHop> = []
    /** Why the last host was skipped: its TLSA (or address) answer was bogus or did not come. */
    let skipped: DnssecBogus | DnsNoRoute | undefined
    for (const candidate of candidates) {
      const addresses = yield* dns.addresses(candidate.host).pipe(Effect.either)
      if (addresses._tag === "Left") {
        skipped = lookupError(domain, candidate.host, "A")(addresses.left)
        continue
      }
      if (addresses.right.records.length === 0) continue
      // Without MX the domain's own address records decide whether DANE applies (RFC 7672 §2.2.2).
      if (implicit) secure = addresses.right.secure
      let tlsa: ReadonlyArray<TlsaRecord> | undefined
      // TLSA only for a host whose address records validated too (RFC 7672 §2.2.2, as Postfix).
      if (secure && addresses.right.secure) {
        const name = tlsaOwner(candidate.host, mxPort)
        const answer = yield* dns.tlsa(name).pipe(Effect.either)
        // Unknown whether the host has DANE: it is not used (RFC 7672 §2.2: bogus or failed TLSA).
        if (answer._tag === "Left") {
          skipped = lookupError(domain, name, "TLSA")(answer.left)
          continue
        }
        tlsa = tlsaOf(answer.right)
      }
      hops.push({ ...candidate, port: mxPort, addresses: addresses.right.records, tlsa })
    }
    if (hops.length === 0) {
      if (skipped) return yield* skipped
      return yield* noRoute(domain, "no-mx-or-address", `no MX or address for ${domain}`)
    }
    return { hops, secure }
  })
