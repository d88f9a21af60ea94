/**
 * The lab's zones as data and their master-file text (RFC 1035 §5). Pure: no keys, no files.
 * Owner names are relative to their zone (`@` is the apex) unless they end in a dot; the names
 * a record points to (MX exchange, CNAME target) are always absolute.
 */

/** `signed`: a chain of trust from the lab root; `unsigned`: an insecure delegation; `bogus`: expired signatures. */
export type LabSigning = "signed" | "unsigned" | "bogus"

interface Owned {
  /** Relative to the zone (`@` for the apex, `_25._tcp.mx`), or absolute with a trailing dot. */
  readonly name: string
  readonly ttl?: number
}

export type LabRecord =
  | (Owned & { readonly type: "A"; readonly address: string })
  | (Owned & { readonly type: "AAAA"; readonly address: string })
  | (Owned & { readonly type: "MX"; readonly preference: number; readonly exchange: string })
  | (Owned & {
      readonly type: "TLSA"
      readonly usage: number
      readonly selector: number
      readonly matchingType: number
      /** Hex, or the bytes themselves. */
      readonly data: string | Uint8Array
    })
  /** One record; a string longer than 255 bytes is split into several character-strings. */
  | (Owned & { readonly type: "TXT"; readonly text: string | ReadonlyArray<string> })
  | (Owned & { readonly type: "CNAME"; readonly target: string })

export interface LabZone {
  /** `dane.example`; not the root, not under `dnssec-lab.` (the lab's own name server lives there). */
  readonly name: string
  readonly records: ReadonlyArray<LabRecord>
  readonly signing: LabSigning
}

/** The name every lab zone names as its name server; its address is in the lab root. */
export const LAB_NAME_SERVER = "ns.dnssec-lab."

export const DEFAULT_TTL = 60

/** `Dane.Example.` → `dane.example` (the root is `""`). */
export const canonicalName = (name: string): string => name.toLowerCase().replace(/\.$/, "")

export const absolute = (name: string): string =>
  canonicalName(name) === "" ? "." : `${canonicalName(name)}.`

const NAME =
  /^(?:\*\.)?(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/

const checkName = (name: string, what: string): string => {
  const canonical = canonicalName(name)
  if (canonical.length > 253 || !NAME.test(canonical))
    throw new Error(`invalid ${what}: ${JSON.stringify(name)}`)
  return canonical
}

const ownerOf = (zone: string, name: string): string => {
  if (name === "@" || name === "") return absolute(zone)
  if (name.endsWith(".")) {
    const owner = checkName(name, "owner name")
    if (owner !== zone && !owner.endsWith(`.${zone}`)) throw new Error(`${name} is not inside ${zone}`)
    return `${owner}.`
  }
  return `${checkName(`${name}.${zone}`, "owner name")}.`
}

const byte = (value: number, what: string): number => {
  if (!Number.isInteger(value) || value < 0 || value > 255) throw new Error(`invalid TLSA ${what}: ${value}`)
  return value
}

const hexOf = (data: string | Uint8Array): string => {
  const hex = typeof data === "string" ? data.replace(/\s+/g, "") : Buffer.from(data).toString("hex")
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(hex))
    throw new Error(`invalid TLSA data: ${JSON.stringify(hex)}`)
  return hex.toUpperCase()
}

/** A quoted character-string: `"` and `\` escaped, everything outside printable ASCII as `\DDD`. */
const quoted = (bytes: Buffer): string =>
  `"${[...bytes]
    .map((b) =>
      b === 0x22 || b === 0x5c
        ? `\\${String.fromCharCode(b)}`
        : b < 0x20 || b > 0x7e
          ? `\\${String(b).padStart(3, "0")}`
          : String.fromCharCode(b),
    )
    .join("")}"`

const characterStrings = (text: string | ReadonlyArray<string>): string => {
  const parts = typeof text === "string" ? [text] : text
  return parts
    .flatMap((part) => {
      const bytes = Buffer.from(part, "utf8")
      const chunks: Array<Buffer> = []
      for (let i = 0; i < bytes.length; i += 255) chunks.push(bytes.subarray(i, i + 255))
      return chunks.length === 0 ? [Buffer.alloc(0)] : chunks
    })
    .map(quoted)
    .join(" ")
}

const rdata = (record: LabRecord): string => {
  switch (record.type) {
    case "A":
    case "AAAA":
      if (!/^[0-9a-f.:]+$/i.test(record.address)) throw new Error(`invalid address: ${record.address}`)
      return record.address
    case "MX":
      // `.` is the null MX of RFC 7505.
      return `${record.preference} ${canonicalName(record.exchange) === "" ? "." : absolute(checkName(record.exchange, "MX exchange"))}`
    case "TLSA":
      return `${byte(record.usage, "usage")} ${byte(record.selector, "selector")} ${byte(record.matchingType, "matching type")} ${hexOf(record.data)}`
    case "TXT":
      return characterStrings(record.text)
    case "CNAME":
      return absolute(checkName(record.target, "CNAME target"))
  }
}

/** A child zone cut inside a zone: its NS and, when the child is signed (or bogus), its DS records. */
export interface Delegation {
  readonly child: string
  readonly ds: ReadonlyArray<string>
}

export interface ZoneText {
  /** Canonical zone name, `""` for the lab root. */
  readonly name: string
  readonly serial: number
  readonly records: ReadonlyArray<LabRecord>
  readonly delegations: ReadonlyArray<Delegation>
  /** Absolute records added verbatim (the lab root's name-server address). */
  readonly extra?: ReadonlyArray<string>
}

export const renderZone = (zone: ZoneText): string => {
  const apex = absolute(zone.name)
  const lines = [
    `$TTL ${DEFAULT_TTL}`,
    // A short negative TTL (the last SOA field) so tests that add a name see it soon.
    `${apex} IN SOA ${LAB_NAME_SERVER} hostmaster.dnssec-lab. ${zone.serial} 60 60 600 5`,
    `${apex} IN NS ${LAB_NAME_SERVER}`,
    ...(zone.extra ?? []),
    ...zone.records.map(
      (r) => `${ownerOf(zone.name, r.name)} ${r.ttl ?? DEFAULT_TTL} IN ${r.type} ${rdata(r)}`,
    ),
    ...zone.delegations.flatMap((d) => [`${absolute(d.child)} IN NS ${LAB_NAME_SERVER}`, ...d.ds]),
  ]
  return `${lines.join("\n")}\n`
}

/** The zone that holds `name`'s delegation: the longest other lab zone above it, else the root. */
export const parentOf = (name: string, zones: ReadonlyArray<string>): string =>
  zones
    .filter((z) => z !== name && (z === "" || name.endsWith(`.${z}`)))
    .reduce((best, z) => (z.length > best.length ? z : best), "")

export const checkZoneName = (name: string): string => {
  const canonical = checkName(name, "zone name")
  if (canonical === "dnssec-lab" || canonical.endsWith(".dnssec-lab"))
    throw new Error(`${name}: dnssec-lab. is the lab's own name`)
  return canonical
}
