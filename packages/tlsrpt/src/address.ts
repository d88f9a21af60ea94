/**
 * Addresses a report is never POSTed to: loopback, private, link-local (cloud metadata),
 * shared, multicast and reserved ranges. A domain's `rua` is chosen by whoever controls its DNS;
 * without this check any domain we deliver to could make the relay POST into our own network.
 */
const V4_BLOCKED: ReadonlyArray<readonly [number, number]> = [
  [0x00000000, 8], // this network
  [0x0a000000, 8], // private
  [0x64400000, 10], // shared (CGNAT)
  [0x7f000000, 8], // loopback
  [0xa9fe0000, 16], // link-local, cloud metadata
  [0xac100000, 12], // private
  [0xc0000000, 24], // IETF protocol assignments
  [0xc0000200, 24], // documentation (TEST-NET-1)
  [0xc6336400, 24], // documentation (TEST-NET-2)
  [0xcb007100, 24], // documentation (TEST-NET-3)
  [0xc0a80000, 16], // private
  [0xc6120000, 15], // benchmarking
  [0xe0000000, 4], // multicast
  [0xf0000000, 4], // reserved, broadcast
]

const v4 = (address: string): number | undefined => {
  const parts = address.split(".")
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined
  return parts.reduce((n, p) => n * 256 + Number(p), 0)
}

const v4Blocked = (n: number) =>
  V4_BLOCKED.some(([base, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)))

/** The first 16 bits of an IPv6 address, and an embedded IPv4 address (mapped `::ffff:a.b.c.d`). */
const v6 = (
  address: string,
): { readonly first: number; readonly all: string; readonly mapped?: number | undefined } => {
  const lower = address.toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  const head = lower.startsWith("::") ? "0" : lower.split(":")[0]!
  return {
    first: Number.parseInt(head || "0", 16),
    all: lower,
    ...(mapped ? { mapped: v4(mapped[1]!) } : {}),
  }
}

export const isPublicAddress = (address: string): boolean => {
  const four = v4(address)
  if (four !== undefined) return !v4Blocked(four)
  const six = v6(address)
  if (six.mapped !== undefined) return !v4Blocked(six.mapped)
  if (six.all === "::" || six.all === "::1") return false
  if ((six.first & 0xfe00) === 0xfc00) return false // unique local
  if ((six.first & 0xffc0) === 0xfe80) return false // link-local
  if ((six.first & 0xff00) === 0xff00) return false // multicast
  if (/^2001:0?db8:/.test(six.all)) return false // documentation
  return true
}
