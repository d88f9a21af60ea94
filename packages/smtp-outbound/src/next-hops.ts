/**
 * Where mail for a domain goes: the policy's route servers, else DNS MX by preference, else the
 * domain's own address (RFC 5321 §5.1 implicit MX); each host resolved to A/AAAA. The resolver's
 * servers are relay configuration (`RELAY_DNS_SERVERS`), so tests use a DNS server on loopback.
 */
import { Resolver } from "node:dns/promises"
import { isIP } from "node:net"
import { isAddressLiteral, type ServerAddress } from "@mailconnect/policy"
import { Context, Effect, Layer } from "effect"
import { DnsNoRoute } from "./errors"

export interface NextHop {
  readonly host: string
  readonly port: number
  readonly preference: number
  readonly addresses: ReadonlyArray<string>
  /**
   * `route`: a server the signed policy names; `mx`/`implicit-mx`: from unauthenticated DNS;
   * `address-literal`: the recipient domain was `[192.0.2.1]` / `[IPv6:2001:db8::1]`.
   */
  readonly source: "route" | "mx" | "implicit-mx" | "address-literal"
}

/** The address of `[192.0.2.1]` / `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3). */
export const literalAddress = (domain: string): string | undefined =>
  isAddressLiteral(domain) ? domain.slice(1, -1).replace(/^IPv6:/i, "") : undefined

export interface DnsLookup {
  readonly mx: (domain: string) => Promise<ReadonlyArray<{ exchange: string; priority: number }>>
  readonly addresses: (host: string) => Promise<ReadonlyArray<string>>
}

const NO_DATA = new Set(["ENODATA", "ENOTFOUND", "NXDOMAIN"])

const orEmpty = <A>(promise: Promise<ReadonlyArray<A>>): Promise<ReadonlyArray<A>> =>
  promise.catch((error: NodeJS.ErrnoException) => {
    if (error.code && NO_DATA.has(error.code)) return []
    throw error
  })

export const makeDnsLookup = (servers: ReadonlyArray<string> | undefined): DnsLookup => {
  const resolver = new Resolver({ timeout: 2_000, tries: 2 })
  if (servers && servers.length > 0) resolver.setServers([...servers])
  return {
    mx: (domain) => orEmpty(resolver.resolveMx(domain)),
    addresses: async (host) => {
      if (isIP(host)) return [host]
      const [v6, v4] = await Promise.all([orEmpty(resolver.resolve6(host)), orEmpty(resolver.resolve4(host))])
      return [...v4, ...v6]
    },
  }
}

export class DnsResolver extends Context.Tag("@mailconnect/DnsResolver")<DnsResolver, DnsLookup>() {
  /** `servers`: `ip` or `ip:port` entries; undefined or empty: the system's resolvers. */
  static readonly layer = (servers?: ReadonlyArray<string>) =>
    Layer.succeed(DnsResolver, makeDnsLookup(servers))
  /** From `RELAY_DNS_SERVERS` (comma or space separated). */
  static readonly layerFromEnv = Layer.sync(DnsResolver, () =>
    makeDnsLookup(
      (process.env.RELAY_DNS_SERVERS ?? "")
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
  )
}

export const resolveNextHops = Effect.fnUntraced(function* (
  domain: string,
  servers: ReadonlyArray<ServerAddress> | undefined,
  mxPort: number,
) {
  const dns = yield* DnsResolver
  const noRoute = (reason: "no-mx-or-address" | "lookup-failed" | "null-mx", detail: string) =>
    new DnsNoRoute({ server: domain, phase: "dns", detail, attempts: [], domain, reason })
  const lookup = <A>(what: string, run: () => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: (e) => noRoute("lookup-failed", `${what}: ${String(e)}`) })

  const literal = literalAddress(domain)
  if (literal !== undefined && !(servers && servers.length > 0)) {
    if (isIP(literal) === 0)
      return yield* noRoute("no-mx-or-address", `${domain} is not a valid address literal`)
    const hop: NextHop = {
      host: literal,
      port: mxPort,
      preference: 0,
      addresses: [literal],
      source: "address-literal",
    }
    return [hop]
  }
  const candidates: Array<{ host: string; port: number; preference: number; source: NextHop["source"] }> = []
  if (servers && servers.length > 0) {
    for (const [i, s] of servers.entries()) {
      candidates.push({ host: s.host, port: s.port, preference: i, source: "route" })
    }
  } else {
    const mx = yield* lookup(`MX ${domain}`, () => dns.mx(domain))
    if (mx.length === 1 && (mx[0]?.exchange === "" || mx[0]?.exchange === ".")) {
      return yield* noRoute("null-mx", `${domain} publishes a null MX (RFC 7505)`)
    }
    const sorted = [...mx].sort((a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange))
    for (const record of sorted) {
      candidates.push({ host: record.exchange, port: mxPort, preference: record.priority, source: "mx" })
    }
    if (candidates.length === 0)
      candidates.push({ host: domain, port: mxPort, preference: 0, source: "implicit-mx" })
  }
  const hops: Array<NextHop> = []
  for (const candidate of candidates) {
    const addresses = yield* lookup(`A/AAAA ${candidate.host}`, () => dns.addresses(candidate.host)).pipe(
      Effect.orElseSucceed((): ReadonlyArray<string> => []),
    )
    if (addresses.length > 0) hops.push({ ...candidate, addresses })
  }
  if (hops.length === 0) {
    return yield* noRoute("no-mx-or-address", `no MX or address for ${domain}`)
  }
  return hops
})
