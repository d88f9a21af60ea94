/** Small pure helpers about messages: ids, recipient grouping, the header block. */
import { randomUUID } from "node:crypto"
import { isAddressLiteral, normalizeDomain } from "@mailconnect/policy"

/**
 * Queue id: time-ordered (base36 milliseconds) plus 48 random bits, e.g. `mhx3k2a1-9f2c4e1a7b3d`.
 * The bits are a UUID v4's first 48 (all random; its version and variant come later): Node draws
 * them from a cached batch of CSPRNG output, where `randomBytes(6)` cost a call and a buffer each.
 */
export const newMessageId = (now: number): string => {
  const uuid = randomUUID()
  return `${now.toString(36)}-${uuid.slice(0, 8)}${uuid.slice(9, 13)}`
}

/**
 * The recipient's domain in its one form: a host name lower-cased, an address literal with the
 * `IPv6:` tag as RFC 5321 writes it and the address in lower case (`[IPv6:2001:db8::1]`).
 */
export const canonicalDomain = (domain: string): string =>
  isAddressLiteral(domain)
    ? `[${domain
        .slice(1, -1)
        .toLowerCase()
        .replace(/^ipv6:/, "IPv6:")}]`
    : normalizeDomain(domain)

export const domainOf = (address: string): string =>
  canonicalDomain(address.slice(address.lastIndexOf("@") + 1))

/** Recipients grouped by domain, domains and recipients in first-seen order, duplicates dropped. */
export const groupByDomain = (recipients: ReadonlyArray<string>): Map<string, Array<string>> => {
  const groups = new Map<string, Array<string>>()
  for (const recipient of recipients) {
    const domain = domainOf(recipient)
    const list = groups.get(domain) ?? []
    if (!list.includes(recipient)) list.push(recipient)
    groups.set(domain, list)
  }
  return groups
}

/** The header block of an RFC 5322 message (up to the first empty line), for DSNs. */
export const headerBlock = (body: Buffer): string => {
  const crlf = body.indexOf("\r\n\r\n")
  const lf = body.indexOf("\n\n")
  const end =
    crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 2 : lf >= 0 ? lf + 1 : Math.min(body.length, 64 * 1024)
  return body.subarray(0, Math.min(end, 64 * 1024)).toString("utf8")
}
