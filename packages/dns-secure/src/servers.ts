/** The resolvers to ask, from configuration entries: `ip`, `ip:port`, `[ipv6]:port`, bare `ipv6`. */
import { isIP } from "node:net"
import { DnsServerInvalid } from "./errors"

export interface DnsServer {
  readonly host: string
  readonly port: number
  readonly family: 4 | 6
  /** `ip:port` / `[ipv6]:port`, as errors and answers report it. */
  readonly label: string
}

const server = (host: string, port: number): DnsServer => {
  const family = isIP(host) === 6 ? 6 : 4
  return { host, port, family, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` }
}

const portOf = (text: string | undefined): number | undefined => {
  if (text === undefined) return 53
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65_535 ? port : undefined
}

export const parseServer = (entry: string): DnsServer | DnsServerInvalid => {
  const invalid = new DnsServerInvalid({ entry })
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(entry)
  if (bracketed) {
    const port = portOf(bracketed[2])
    return isIP(bracketed[1]!) === 6 && port !== undefined ? server(bracketed[1]!, port) : invalid
  }
  if (isIP(entry) !== 0) return server(entry, 53)
  const [host, port, ...rest] = entry.split(":")
  const parsedPort = portOf(port)
  return rest.length === 0 && isIP(host ?? "") === 4 && parsedPort !== undefined
    ? server(host!, parsedPort)
    : invalid
}

/** `RELAY_DNS_SERVERS`-style lists: comma or space separated. */
export const splitServerList = (text: string): ReadonlyArray<string> =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
