/**
 * Who may send what, decided from the active policy. Pure: the listeners call these with what
 * the session has learnt (TLS, client certificate, authenticated user) and reply accordingly.
 *
 *  - inbound MX: mail only for our local domains (never an open relay); per sending partner,
 *    `inbound.requireTls` refuses plaintext and a client-certificate requirement (mtls) refuses
 *    a missing or wrong certificate, decided at MAIL FROM; a closed group's local domains take
 *    mail only from verified members, decided at RCPT TO.
 *  - submission: an authenticated user may send from the domains listed for it.
 */

import type { X509Certificate } from "node:crypto"
import type { Partner, PolicyLookup } from "@mailconnect/policy"
import { type ClientCertificateVerdict, verifyClientCertificate } from "./client-certificate"
import { type Refusal, refusal } from "./replies"

export const domainOf = (address: string): string => address.slice(address.lastIndexOf("@") + 1).toLowerCase()

export interface SenderContext {
  /** The partner the sender domain belongs to, if any. */
  readonly partner: Partner | undefined
  /** The partner's client certificate verified for this session. */
  readonly verifiedMember: boolean
}

export interface TlsState {
  readonly secure: boolean
  readonly clientChain: ReadonlyArray<X509Certificate>
}

const requiresClientCertificate = (partner: Partner): boolean =>
  partner.inbound.requireClientCertificate || partner.tls.mode === "mtls" || partner.groups.length > 0

export const checkMxSender = (
  lookup: PolicyLookup,
  sender: string,
  tls: TlsState,
  now: number,
): { readonly context: SenderContext } | { readonly refusal: Refusal } => {
  const partner = sender === "" ? undefined : lookup.partnerFor(domainOf(sender))
  if (!partner) return { context: { partner: undefined, verifiedMember: false } }
  const mustUseTls = partner.inbound.requireTls || requiresClientCertificate(partner)
  if (mustUseTls && !tls.secure)
    return {
      refusal: refusal(
        530,
        "5.7.0",
        `Must issue a STARTTLS command first: mail from ${partner.name} requires TLS`,
        "tls-required",
      ),
    }
  if (!requiresClientCertificate(partner)) return { context: { partner, verifiedMember: false } }
  const verdict: ClientCertificateVerdict = verifyClientCertificate({ chain: tls.clientChain, partner, now })
  if (!verdict.ok)
    return {
      refusal: refusal(
        550,
        "5.7.1",
        `Client certificate required for ${partner.name}: ${verdict.problem} (${verdict.detail})`,
        "client-certificate",
      ),
    }
  return { context: { partner, verifiedMember: true } }
}

export const checkMxRecipient = (
  lookup: PolicyLookup,
  recipient: string,
  sender: SenderContext,
): Refusal | undefined => {
  const local = lookup.localDomain(domainOf(recipient))
  if (!local)
    return refusal(
      554,
      "5.7.1",
      `Relay access denied: ${domainOf(recipient)} is not a domain of ours`,
      "relay-denied",
    )
  if (local.groups.length === 0) return undefined
  const member = sender.verifiedMember && sender.partner?.groups.some((g) => local.groups.includes(g))
  return member
    ? undefined
    : refusal(
        550,
        "5.7.1",
        `${local.domain} accepts mail only from members of closed group ${local.groups.join(", ")}`,
        "closed-group",
      )
}

export const checkSubmissionSender = (
  sender: string,
  allowedDomains: ReadonlyArray<string>,
): Refusal | undefined => {
  if (sender === "") return refusal(550, "5.7.1", "Sender address required", "sender-not-allowed")
  const domain = domainOf(sender)
  return allowedDomains.includes(domain)
    ? undefined
    : refusal(550, "5.7.1", `Sender address rejected: not allowed to send as ${domain}`, "sender-not-allowed")
}

/**
 * Submission to a closed group's domains (a member partner's or our own group domains): only a
 * sender from one of our local domains in that group may write — a closed group exchanges mail
 * among its members only.
 */
export const checkSubmissionRecipient = (
  lookup: PolicyLookup,
  sender: string,
  recipient: string,
): Refusal | undefined => {
  const domain = domainOf(recipient)
  const groups = lookup.localDomain(domain)?.groups ?? lookup.partnerFor(domain)?.groups ?? []
  if (groups.length === 0) return undefined
  const senderGroups = lookup.localDomain(domainOf(sender))?.groups ?? []
  return senderGroups.some((g) => groups.includes(g))
    ? undefined
    : refusal(
        550,
        "5.7.1",
        `${domain} is in closed group ${groups.join(", ")}; ${domainOf(sender)} is not a member`,
        "closed-group",
      )
}
