/**
 * The MTA-STS policy we publish for one of our own domains (RFC 8461): its text as served at
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt` (§3.2), its id for the `_mta-sts` TXT record
 * (§3.1) and the policy host a request names. Pure, so the relay that serves the policy and the
 * CLI that prints the TXT records derive the same bytes and the same id from the bundle.
 */
import { createHash } from "node:crypto"
import type { LocalDomain, PublishedMtaSts, PublishedTlsRpt } from "./model"

/** RFC 8461 §3.3: the policy host is `mta-sts.` followed by the policy domain. */
export const MTA_STS_HOST_PREFIX = "mta-sts."
export const MTA_STS_WELL_KNOWN_PATH = "/.well-known/mta-sts.txt"
/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about one year). */
export const MTA_STS_MAX_AGE_LIMIT = 31_557_600

/** The policy text, CRLF line endings, keys in the RFC's order, mx patterns as written. */
export const renderMtaStsPolicy = (policy: PublishedMtaSts): string =>
  [
    "version: STSv1",
    `mode: ${policy.mode}`,
    ...policy.mx.map((pattern) => `mx: ${pattern}`),
    `max_age: ${policy.maxAge}`,
  ]
    .map((line) => `${line}\r\n`)
    .join("")

/**
 * The policy id (1–32 alphanumerics, §3.1): the first 16 hex digits of SHA-256 over the policy
 * text, so it changes exactly when the served policy does and needs no counter to bump.
 */
export const mtaStsPolicyId = (policy: PublishedMtaSts): string =>
  createHash("sha256").update(renderMtaStsPolicy(policy), "utf8").digest("hex").slice(0, 16)

/** The value of the `_mta-sts.<domain>` TXT record announcing this policy. */
export const mtaStsTxtValue = (policy: PublishedMtaSts): string => `v=STSv1; id=${mtaStsPolicyId(policy)}`

/** The `_smtp._tls` TXT value (RFC 8460 §3); a comma inside a URI is written `%2C`. */
export const tlsRptTxtValue = (tlsRpt: PublishedTlsRpt): string =>
  `v=TLSRPTv1; rua=${tlsRpt.rua.map((u) => u.replace(/,/g, "%2C")).join(",")}`

/**
 * The policy domain a request's Host header names, normalised (case, port, trailing dot), or
 * undefined when it is not `mta-sts.<something>`. Whether that domain is ours is the caller's
 * lookup in the active policy.
 */
export const policyDomainOfHost = (host: string | undefined): string | undefined => {
  if (host === undefined) return undefined
  const name = host.trim().toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "")
  if (!name.startsWith(MTA_STS_HOST_PREFIX)) return undefined
  const domain = name.slice(MTA_STS_HOST_PREFIX.length)
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain) ? domain : undefined
}

/** The published policy for a Host header, looked up among our local domains; undefined → 404. */
export const mtaStsPolicyForHost = (
  localDomains: Readonly<Record<string, LocalDomain>>,
  host: string | undefined,
): PublishedMtaSts | undefined => {
  const domain = policyDomainOfHost(host)
  if (domain === undefined || !Object.hasOwn(localDomains, domain)) return undefined
  return localDomains[domain]?.mtaSts
}
