/**
 * `host[:port]` as route servers and local next hops are written: a DNS name, an IPv4 address
 * or a bracketed IPv6 address, and an optional port (default 25).
 */
import type { ServerAddress } from "@mailconnect/policy"

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i
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

const validHost = (host: string): boolean => {
  const v4 = IPV4.exec(host)
  if (v4) return v4.slice(1).every((octet) => Number(octet) <= 255)
  if (/^\d+(\.\d+)*$/.test(host)) return false
  return HOSTNAME.test(host)
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
    host = parts[0]!
    portText = parts[1]
    if (!validHost(host)) return { problem: "host" }
    host = host.toLowerCase().replace(/\.$/, "")
  }
  if (portText === undefined) return { address: { host, port: defaultPort } }
  if (!/^\d{1,5}$/.test(portText)) return { problem: "port" }
  const port = Number(portText)
  if (port < 1 || port > 65535) return { problem: "port" }
  return { address: { host, port } }
}
