/**
 * Client networks as connectors name them (`192.0.2.0/24`, `2001:db8::/32`, or a bare address for
 * one host), parsed once with ipaddr.js — the one place the workspace reads IP addresses — so the
 * compiler's checks and the listener's matching agree on what a network is.
 *
 * Strict on purpose: IPv4 only as four decimal parts (ipaddr.js also reads `0x7f.1` or `10.1`,
 * which in a policy file is a typo), no zone ids, no IPv4-mapped IPv6 networks (a client's
 * mapped address is matched as the IPv4 address it is), and no host bits below the prefix
 * (`10.0.0.1/8` usually means a mistake about which hosts are meant).
 */
import ipaddr from "ipaddr.js"

export type NetworkProblem = "syntax" | "prefix" | "host-bits" | "mapped"

export interface ParsedNetwork {
  /** Canonical form with an explicit prefix: `10.0.0.0/8`, `2001:db8::/32`, `127.0.0.2/32`. */
  readonly network: string
  readonly family: "ipv4" | "ipv6"
  readonly prefix: number
}

export type NetworkParse =
  | { readonly ok: true; readonly parsed: ParsedNetwork }
  | { readonly ok: false; readonly problem: NetworkProblem; readonly suggestion?: string }

const parseAddress = (text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined => {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text)
  if (text.includes(":") && ipaddr.IPv6.isValid(text)) {
    const address = ipaddr.IPv6.parse(text)
    return address.zoneId === undefined ? address : undefined
  }
  return undefined
}

const canonical = (address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): string =>
  `${address.kind() === "ipv6" ? (address as ipaddr.IPv6).toRFC5952String() : address.toString()}/${prefix}`

export const parseNetwork = (written: string): NetworkParse => {
  const text = written.trim()
  const slash = text.indexOf("/")
  const address = parseAddress(slash === -1 ? text : text.slice(0, slash))
  if (!address) return { ok: false, problem: "syntax" }
  const family = address.kind()
  const width = family === "ipv4" ? 32 : 128
  const prefixText = slash === -1 ? String(width) : text.slice(slash + 1)
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > width) return { ok: false, problem: "prefix" }
  const prefix = Number(prefixText)
  if (family === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress())
    return { ok: false, problem: "mapped" }
  const base =
    family === "ipv4"
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`)
  if (base.toString() !== address.toString())
    return { ok: false, problem: "host-bits", suggestion: canonical(base, prefix) }
  return { ok: true, parsed: { network: canonical(base, prefix), family, prefix } }
}

/**
 * A matcher over a connector's networks, built once per bundle. The client address is taken as
 * the socket reports it; `::ffff:a.b.c.d` (a dual-stack listener) is the IPv4 client it carries.
 * Anything unparsable matches nothing.
 */
export const networkMatcher = (networks: ReadonlyArray<string>): ((address: string) => boolean) => {
  const ranges = networks.flatMap((network) => {
    const parsed = parseNetwork(network)
    return parsed.ok ? [ipaddr.parseCIDR(parsed.parsed.network)] : []
  })
  return (address) => {
    if (ranges.length === 0 || !ipaddr.isValid(address)) return false
    const client = ipaddr.process(address)
    return ranges.some(([range, bits]) => range.kind() === client.kind() && client.match(range, bits))
  }
}
