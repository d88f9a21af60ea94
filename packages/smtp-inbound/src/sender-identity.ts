/**
 * Which partner a client certificate identifies: every partner whose `inbound.verify` accepts the
 * chain. The MAIL FROM domain is only a claim; the certificate is the proof.
 *
 * One match identifies that partner. Several matches (overlapping names, a shared pin or a shared
 * hosting server declared by two partners) prove only that the sender is one of them: such a
 * certificate satisfies each of those partners' own requirement for mail in its own domains,
 * but it identifies no one for a closed group (membership needs one unambiguous member).
 */
import type { X509Certificate } from "node:crypto"
import type { Partner } from "@mailconnect/policy"
import { verifyClientCertificate } from "./client-certificate"

export const partnersIdentifiedBy = (
  partners: ReadonlyArray<Partner>,
  chain: ReadonlyArray<X509Certificate>,
  now: number,
): ReadonlyArray<Partner> =>
  chain.length === 0 ? [] : partners.filter((partner) => verifyClientCertificate({ chain, partner, now }).ok)
