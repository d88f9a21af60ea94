/**
 * The one form of a domain everywhere in mailconnect: UTS-46 A-labels, lower case, no trailing
 * dot (DESIGN §3). Every edge where a domain enters (SMTP envelope, policy files, CLI arguments)
 * converts with `toALabel` once; lookup, DNS, SNI, job ids and logs then see one spelling, so
 * `ｂａｎｋ.example` (full-width), `bank。example` (ideographic full stop) and `BANK.example` are
 * the same partner, and `müller-bank.de` is found as `xn--mller-bank-9db.de`.
 *
 * `node:url`'s `domainToASCII` applies UTS-46 processing (mapping, normalisation, Punycode) —
 * the same the resolver applies — but it is lenient about host syntax, so the result is checked
 * against the LDH rule (RFC 5321 §4.1.2 / RFC 5890) here.
 */
import { domainToASCII, domainToUnicode } from "node:url"

const LABEL = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/
const ADDRESS_LITERAL = /^\[(?:IPv6:[0-9a-f:.]+|\d{1,3}(?:\.\d{1,3}){3})\]$/i

/** `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3): not a domain, routed to the address. */
export const isAddressLiteral = (domain: string): boolean => ADDRESS_LITERAL.test(domain)

/**
 * The A-label form of a domain, or undefined when it is not a valid host name after UTS-46
 * processing (empty labels, a leading or trailing hyphen, invalid Punycode, forbidden code points).
 */
export const toALabel = (domain: string): string | undefined => {
  const ascii = domainToASCII(domain.trim()).toLowerCase().replace(/\.$/, "")
  if (ascii.length === 0 || ascii.length > 253) return undefined
  if (!ascii.split(".").every((label) => LABEL.test(label))) return undefined
  // UTS-46 CheckHyphens, which domainToASCII skips: no U-label starts or ends with "-".
  const unicode = domainToUnicode(ascii).split(".")
  return unicode.every((label) => !label.startsWith("-") && !label.endsWith("-")) ? ascii : undefined
}

/** `*.suffix` patterns keep their wildcard; the suffix is converted like any domain. */
export const patternToALabel = (pattern: string): string | undefined => {
  if (!pattern.startsWith("*.")) return toALabel(pattern)
  const suffix = toALabel(pattern.slice(2))
  return suffix === undefined ? undefined : `*.${suffix}`
}

const literalInOneCase = (literal: string): string =>
  /^\[ipv6:/i.test(literal) ? `[IPv6:${literal.slice(6).toLowerCase()}` : literal

/**
 * An envelope address with its domain in A-label form (the local part is kept as written), an
 * address literal with its `IPv6:` tag and hex digits in one case, or undefined when the domain
 * does not convert. The null reverse path `""` stays `""`.
 */
export const normalizeAddress = (address: string): string | undefined => {
  if (address === "") return ""
  const at = address.lastIndexOf("@")
  if (at <= 0 || at === address.length - 1) return undefined
  const local = address.slice(0, at)
  const domain = address.slice(at + 1)
  if (isAddressLiteral(domain)) return `${local}@${literalInOneCase(domain)}`
  const ascii = toALabel(domain)
  return ascii === undefined ? undefined : `${local}@${ascii}`
}
