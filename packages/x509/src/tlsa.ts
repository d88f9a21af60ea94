/**
 * DANE for SMTP (RFC 7672, RFC 7671, RFC 6698): matching a TLS peer's certificates against the
 * TLSA records of its MX host, once DNSSEC has validated them (the caller's job). Pure: records
 * and certificates in, a verdict as data out.
 *
 *  - DANE-EE(3): the leaf's certificate or public key matches; no name check and no expiry check
 *    (RFC 7672 §3.1.1: the key is the authentication).
 *  - DANE-TA(2): a certificate the peer sent matches and the leaf chains to it, every link's
 *    signature checked; the leaf must then carry one of the reference names and every certificate
 *    on the path must be valid now (RFC 7672 §3.1.2, §3.2).
 *  - PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP (RFC 7672 §3.1.3), as are unknown usages,
 *    selectors and matching types, and digests of the wrong length.
 */
import { createHash, type X509Certificate } from "node:crypto"
import { certifiesHost, walkChain } from "./index"

export interface TlsaRecord {
  /** 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE. */
  readonly usage: number
  /** 0 full certificate, 1 SubjectPublicKeyInfo. */
  readonly selector: number
  /** 0 exact, 1 SHA2-256, 2 SHA2-512. */
  readonly matchingType: number
  readonly data: Uint8Array
}

const DIGEST_LENGTH: Readonly<Record<number, number | undefined>> = { 1: 32, 2: 64 }

/** A record RFC 7672 lets an SMTP client use. */
export const isUsableTlsa = (record: TlsaRecord): boolean =>
  (record.usage === 2 || record.usage === 3) &&
  (record.selector === 0 || record.selector === 1) &&
  (record.matchingType === 0 || DIGEST_LENGTH[record.matchingType] === record.data.length) &&
  record.data.length > 0

/** The bytes a record of this selector and matching type carries for `certificate`. */
export const tlsaAssociation = (
  certificate: X509Certificate,
  selector: number,
  matchingType: number,
): Buffer => {
  const selected =
    selector === 0 ? certificate.raw : certificate.publicKey.export({ type: "spki", format: "der" })
  if (matchingType === 1) return createHash("sha256").update(selected).digest()
  if (matchingType === 2) return createHash("sha512").update(selected).digest()
  return Buffer.from(selected)
}

const matches = (certificate: X509Certificate, record: TlsaRecord): boolean =>
  tlsaAssociation(certificate, record.selector, record.matchingType).equals(Buffer.from(record.data))

export type DaneProblem =
  /** No usable record matches the leaf (DANE-EE) or a certificate the peer sent (DANE-TA). */
  | "NO_MATCH"
  /** A DANE-TA record matched, but the leaf does not chain to that certificate. */
  | "TA_CHAIN"
  /** The leaf chains to a DANE-TA anchor but carries none of the reference names. */
  | "TA_NAME"
  /** The leaf chains to a DANE-TA anchor but a certificate on the path is expired or not yet valid. */
  | "TA_EXPIRED"

export interface DaneMatch {
  readonly usage: 2 | 3
  readonly selector: number
  readonly matchingType: number
  /** 0: the leaf; higher: the trust anchor's position in what the peer sent. */
  readonly depth: number
  /** The reference name the leaf carries (DANE-TA only). */
  readonly name?: string
}

export type DaneVerdict =
  | { readonly ok: true; readonly match: DaneMatch }
  | { readonly ok: false; readonly problem: DaneProblem }

const validAt = (certificate: X509Certificate, now: Date): boolean =>
  new Date(certificate.validFrom) <= now && now <= new Date(certificate.validTo)

/**
 * The peer's certificates (leaf first, as sent) against the usable records. `names`: the
 * reference identifiers for DANE-TA (the MX host name, and the next-hop domain).
 */
export const verifyDane = (
  presented: ReadonlyArray<X509Certificate>,
  records: ReadonlyArray<TlsaRecord>,
  names: ReadonlyArray<string>,
  now: Date,
): DaneVerdict => {
  const leaf = presented[0]
  const usable = records.filter(isUsableTlsa)
  if (!leaf) return { ok: false, problem: "NO_MATCH" }
  const ee = usable.find((r) => r.usage === 3 && matches(leaf, r))
  if (ee)
    return { ok: true, match: { usage: 3, selector: ee.selector, matchingType: ee.matchingType, depth: 0 } }
  // The most specific problem across every DANE-TA record that matched something.
  const rank: Record<DaneProblem, number> = { NO_MATCH: 0, TA_CHAIN: 1, TA_EXPIRED: 2, TA_NAME: 3 }
  let problem: DaneProblem = "NO_MATCH"
  for (const record of usable.filter((r) => r.usage === 2))
    for (const [depth, candidate] of presented.entries()) {
      if (!matches(candidate, record)) continue
      const walk = walkChain(presented, [candidate])
      const name = names.find((n) => certifiesHost(leaf, n))
      const found: DaneProblem | undefined = !walk.anchored
        ? "TA_CHAIN"
        : !walk.path.every((c) => validAt(c, now))
          ? "TA_EXPIRED"
          : name === undefined
            ? "TA_NAME"
            : undefined
      if (found === undefined)
        return {
          ok: true,
          match: {
            usage: 2,
            selector: record.selector,
            matchingType: record.matchingType,
            depth,
            ...(name ? { name } : {}),
          },
        }
      if (rank[found] > rank[problem]) problem = found
    }
  return { ok: false, problem }
}
