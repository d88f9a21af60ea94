/**
 * Why a secure lookup gave no answer: one tagged error per cause. A denial (NXDOMAIN, NODATA) is
 * not among them — it is an answer (`DnsAnswer.status`), secure or not like any other.
 */
import { Data } from "effect"

/** The record types this adapter asks for. */
export type QueryType = "A" | "AAAA" | "MX" | "TLSA" | "TXT"

/** One exchange with one server that gave no usable answer. */
export interface DnsAttempt {
  /** `ip:port` / `[ipv6]:port`. */
  readonly server: string
  readonly transport: "udp" | "tcp"
  /**
   * `timeout`: no matching answer in time; `network`: the socket failed (e.g. ECONNREFUSED);
   * `refused`: rcode REFUSED; `unexpected-rcode`: FORMERR, NOTIMP and the like.
   */
  readonly reason: "timeout" | "network" | "refused" | "unexpected-rcode"
  /** The socket's error code or the rcode, for logs. */
  readonly detail: string
}

/** RFC 8914 Extended DNS Error, as the validating resolver gave it (unbound with `ede: yes`). */
export interface ExtendedDnsError {
  /** 6 DNSSEC Bogus, 7 Signature Expired, 9 DNSKEY Missing, 22 No Reachable Authority, … */
  readonly code: number
  readonly text: string
}

/**
 * SERVFAIL from every validating resolver that answered: the answer is bogus (or the resolver
 * could not get one it could validate). RFC 7672 §2.1.1: a lookup that fails this way defers.
 */
export class DnsBogus extends Data.TaggedError("DnsBogus")<{
  readonly name: string
  readonly type: QueryType
  /** The servers that answered SERVFAIL, in the order asked. */
  readonly servers: ReadonlyArray<string>
  readonly extendedError?: ExtendedDnsError
  /** Servers that gave no answer at all before or after. */
  readonly attempts: ReadonlyArray<DnsAttempt>
}> {}

/** No server gave an answer: every one timed out, failed on the network or refused. */
export class DnsLookupFailed extends Data.TaggedError("DnsLookupFailed")<{
  readonly name: string
  readonly type: QueryType
  /** The last server tried, and why it failed. */
  readonly server: string
  readonly reason: DnsAttempt["reason"]
  readonly detail: string
  /** Every attempt, in order. */
  readonly attempts: ReadonlyArray<DnsAttempt>
}> {}

/** A CNAME chain that loops or runs longer than the adapter follows. */
export class DnsCnameChainTooLong extends Data.TaggedError("DnsCnameChainTooLong")<{
  readonly name: string
  readonly type: QueryType
  /** The names of the chain as far as it was followed, the asked name first. */
  readonly chain: ReadonlyArray<string>
}> {}

/** Not a domain name the adapter will put into a query (A-labels only, RFC 1035 lengths). */
export class DnsInvalidName extends Data.TaggedError("DnsInvalidName")<{
  readonly name: string
  readonly problem: "empty" | "too-long" | "label-too-long" | "empty-label" | "invalid-character"
}> {}

/** A resolver entry of the configuration that is not `ip`, `ip:port` or `[ipv6]:port`. */
export class DnsServerInvalid extends Data.TaggedError("DnsServerInvalid")<{
  readonly entry: string
}> {}

export type SecureDnsError = DnsBogus | DnsLookupFailed | DnsCnameChainTooLong | DnsInvalidName
