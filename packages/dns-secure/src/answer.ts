/**
 * What a response says about a name: the CNAME chain in its answer section, the records of the
 * asked type at the chain's end, the TTLs. Pure, over dns-packet's decoded records.
 */
import type * as dnsPacket from "dns-packet"
import type { QueryType } from "./errors"

export type DnsStatus = "records" | "nxdomain" | "nodata"

export interface DnsAnswer<R> {
  /** The name asked, canonical (lower case, no trailing dot). */
  readonly name: string
  /** Where the CNAME chain ended (`name` when there was none): the owner of `records`. */
  readonly canonicalName: string
  /** `nxdomain` / `nodata`: a denial, with `records` empty — secure when the resolver validated it. */
  readonly status: DnsStatus
  /** AD from the validating resolver on every response this answer was built from. */
  readonly secure: boolean
  readonly records: ReadonlyArray<R>
  /** Seconds the answer may be kept: the least TTL of its records and CNAMEs (a denial: RFC 2308). */
  readonly ttl: number
  /** The resolver that gave the (last) response. */
  readonly server: string
}

export interface MxRecord {
  readonly preference: number
  /** Canonical host name; `.` for a null MX (RFC 7505). */
  readonly exchange: string
}

export interface TlsaRecord {
  readonly usage: number
  readonly selector: number
  readonly matchingType: number
  readonly data: Buffer
  /** `data` in lower-case hex. */
  readonly hex: string
}

/** A and AAAA of one name: `records` holds the IPv4 addresses, then the IPv6 ones. */
export interface AddressAnswer extends DnsAnswer<string> {
  readonly ipv4: DnsAnswer<string>
  readonly ipv6: DnsAnswer<string>
}

export const canonical = (name: string): string =>
  name === "." ? "." : name.toLowerCase().replace(/\.$/, "")

export interface Walk {
  /** The names visited, the start first; the last is where the chain ended. */
  readonly chain: ReadonlyArray<string>
  readonly records: ReadonlyArray<dnsPacket.Answer>
  /** TTLs of the CNAMEs and records used. */
  readonly ttls: ReadonlyArray<number>
}

/** Follows CNAMEs from `start` through `answers` to the records of `type`. */
export const walk = (answers: ReadonlyArray<dnsPacket.Answer>, start: string, type: QueryType): Walk => {
  const chain = [start]
  const ttls: Array<number> = []
  const at = (name: string) =>
    answers.filter((a) => canonical(a.name) === name && (!("class" in a) || (a.class ?? "IN") === "IN"))
  for (;;) {
    const current = chain.at(-1)!
    const here = at(current)
    const records = here.filter((a) => a.type === type)
    if (records.length > 0) {
      ttls.push(...records.map(ttlOf))
      return { chain, records, ttls }
    }
    const cname = here.find((a) => a.type === "CNAME")
    if (cname?.type !== "CNAME") return { chain, records: [], ttls }
    ttls.push(ttlOf(cname))
    const target = canonical(cname.data)
    // A loop: stop at the repeated name (the caller sees it twice in the chain).
    if (chain.includes(target)) return { chain: [...chain, target], records: [], ttls }
    chain.push(target)
  }
}

const ttlOf = (record: dnsPacket.Answer): number => ("ttl" in record ? (record.ttl ?? 0) : 0)

/** The SOA of a negative answer, if the authority section has one. */
export const denialSoa = (authorities: ReadonlyArray<dnsPacket.Answer>): dnsPacket.SoaAnswer | undefined =>
  authorities.find((a): a is dnsPacket.SoaAnswer => a.type === "SOA")

/** RFC 2308 §5: the lesser of the SOA's TTL and its MINIMUM field. */
export const negativeTtl = (soa: dnsPacket.SoaAnswer | undefined): number =>
  soa ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) : 0

export const mxRecord = (a: dnsPacket.Answer): MxRecord | undefined =>
  a.type === "MX" ? { preference: a.data.preference ?? 0, exchange: canonical(a.data.exchange) } : undefined

export const addressRecord = (a: dnsPacket.Answer): string | undefined =>
  a.type === "A" || a.type === "AAAA" ? a.data : undefined

export const tlsaRecord = (a: dnsPacket.Answer): TlsaRecord | undefined => {
  if (a.type !== "TLSA") return undefined
  const data = Buffer.from(a.data.certificate)
  return {
    usage: a.data.usage,
    selector: a.data.selector,
    matchingType: a.data.matchingType,
    data,
    hex: data.toString("hex"),
  }
}

/** A TXT record's character-strings joined (as SPF, MTA-STS and TLS-RPT read them). */
export const txtRecord = (a: dnsPacket.Answer): string | undefined => {
  if (a.type !== "TXT") return undefined
  const parts = Array.isArray(a.data) ? a.data : [a.data]
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p))).toString("utf8")
}

/** MX by preference, then name: the order a sender tries them in (RFC 5321 §5.1). */
export const byPreference = (a: MxRecord, b: MxRecord): number =>
  a.preference - b.preference || (a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : 0)

/** `_25._tcp.mx.example.com` — the TLSA owner name of a TCP service (RFC 6698 §3). */
export const tlsaName = (host: string, port = 25): string => `_${port}._tcp.${canonical(host)}`
