/**
 * A name and a type to a `DnsAnswer`: the resolver's response, its CNAME chain followed, and —
 * when the chain ends at a name the response says nothing more about — that name asked in turn.
 * The answer is secure only if every response it was built from carried AD.
 */
import type * as dnsPacket from "dns-packet"
import { Effect } from "effect"
import { type DnsAnswer, denialSoa, negativeTtl, walk } from "./answer"
import { DnsCnameChainTooLong, type QueryType, type SecureDnsError } from "./errors"
import { type LookupOptions, lookup } from "./lookup"
import { queryName } from "./message"
import type { DnsServer } from "./servers"

/** CNAMEs followed before giving up (unbound itself follows at most 11 per response). */
export const MAX_CNAMES = 12

export const resolve = <R>(
  servers: ReadonlyArray<DnsServer>,
  options: LookupOptions,
  asked: string,
  type: QueryType,
  toRecord: (answer: dnsPacket.Answer) => R | undefined,
): Effect.Effect<DnsAnswer<R>, SecureDnsError> =>
  Effect.gen(function* () {
    const name = queryName(asked)
    if (typeof name !== "string") return yield* name
    const chain = [name]
    let secure = true
    let ttl = Number.POSITIVE_INFINITY
    for (;;) {
      const current = chain.at(-1)!
      const { response, server } = yield* lookup(servers, options, current, type)
      secure &&= response.authenticated
      const walked = walk(response.packet.answers ?? [], current, type)
      chain.push(...walked.chain.slice(1))
      // A loop within one response or across several (a → b here, b → a in the next).
      if (new Set(chain).size < chain.length || chain.length - 1 > MAX_CNAMES)
        return yield* new DnsCnameChainTooLong({ name, type, chain })
      ttl = Math.min(ttl, ...walked.ttls)
      const answer = (
        status: DnsAnswer<R>["status"],
        records: ReadonlyArray<R>,
        least: number,
      ): DnsAnswer<R> => ({
        name,
        canonicalName: chain.at(-1)!,
        status,
        secure,
        records,
        ttl: Number.isFinite(least) ? least : 0,
        server,
      })
      if (walked.records.length > 0) {
        const records = walked.records.map(toRecord).filter((r): r is R => r !== undefined)
        return answer("records", records, ttl)
      }
      const soa = denialSoa(response.packet.authorities ?? [])
      if (response.rcode === "NXDOMAIN") return answer("nxdomain", [], Math.min(ttl, negativeTtl(soa)))
      // NODATA at the end of the chain — said by the SOA of a negative answer, or by a response
      // that led nowhere further. A chain cut short (no SOA) is asked on from where it ended.
      if (soa !== undefined || walked.chain.length === 1)
        return answer("nodata", [], Math.min(ttl, negativeTtl(soa)))
    }
  })
