/**
 * `host[:port]` as route servers and local next hops are written: a DNS name (Unicode or
 * A-labels; stored as A-labels, since SNI, DNS and the certificate check all see that form), an
 * IPv4 address or a bracketed IPv6 address, and an optional port (default 25).
 */
import { type ServerAddress, toALabel } from "@mailconnect/policy"

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

export type AddressProblem = "empty" | "host" | "port"

const validIpv6 = (literal: string): boolean => {
  // URL parsing is the stdlib's IPv6 grammar without importing node:net into the pure core.
  try {
    return new URL(`smtp://[${literal}]/`).hostname.length > 2
  } catch {
    return false
  }
}

const isIpv4 = (host: string): boolean => {
  const v4 = IPV4.exec(host)
  return v4?.slice(1).every((octet) => Number(octet) <= 255) ?? false
}

/** A dotted-quad IPv4 or an (unbracketed) IPv6 address. */
export const isIpAddress = (text: string): boolean => isIpv4(text) || (text.includes(":") && validIpv6(text))

const NUMERIC = /^[\d.]+$/

/** The host as stored (IPv4 as written, a name in A-label form), or undefined when invalid. */
const hostOf = (written: string): string | undefined => {
  if (isIpv4(written)) return written
  if (NUMERIC.test(written)) return undefined
  const name = toALabel(written)
  // URL host parsing reads `1.2.3` or `0x7f.1` as an IPv4 address: that is a typo, not a name.
  return name === undefined || NUMERIC.test(name) ? undefined : name
}

export const parseAddress = (
  text: string,
  defaultPort = 25,
): { readonly address: ServerAddress } | { readonly problem: AddressProblem } => {
  const trimmed = text.trim()
  if (trimmed === "") return { problem: "empty" }
  let host: string
  let portText: string | undefined
  if (trimmed.startsWith("[")) {
    const close = trimmed.indexOf("]")
    if (close === -1) return { problem: "host" }
    host = trimmed.slice(1, close)
    const rest = trimmed.slice(close + 1)
    if (rest !== "" && !rest.startsWith(":")) return { problem: "host" }
    portText = rest === "" ? undefined : rest.slice(1)
    if (!validIpv6(host)) return { problem: "host" }
  } else {
    const parts = trimmed.split(":")
    if (parts.length > 2) return { problem: "host" }
    portText = parts[1]
    const converted = hostOf(parts[0]!)
    if (converted === undefined) return { problem: "host" }
    host = converted
  }
  if (portText === undefined) return { address: { host, port: defaultPort } }
  if (!/^\d{1,5}$/.test(portText)) return { problem: "port" }
  const port = Number(portText)
  if (port < 1 || port > 65535) return { problem: "port" }
  return { address: { host, port } }
}
