/**
 * Who may send what, decided from the active policy. Pure: the listeners call these with what
 * the session has learnt (TLS, client certificate, authenticated user) and reply accordingly.
 * Addresses arrive already normalised (`normalizeEnvelopeAddress`: A-label domains).
 *
 *  - inbound MX: mail only for our local domains (never an open relay); per sending partner,
 *    `inbound.requireTls` refuses plaintext and a client-certificate requirement (mtls, closed
 *    groups) refuses a missing or wrong certificate, decided at MAIL FROM; a closed group's local
 *    domains take mail only from a member identified by its certificate, decided at RCPT TO.
 *  - a certificate that identifies partner A never carries a MAIL FROM of partner B's domain.
 *  - a session below TLS 1.2 (only the legacy listener negotiates one) or on the legacy listener
 *    carries mail only from a partner whose agreement grants `legacyTls`.
 *  - submission: an authenticated user may send from the domains listed for it.
 *
 * Replies: a certificate the partner's policy does not accept is refused *temporarily*
 * (`450 4.7.1`, as Postfix's `421 4.7.1 … Client certificate not trusted`): during a rollover
 * the sender's queue keeps the mail until the policy or the certificate is updated, where a 5xx
 * would bounce it. 450 on MAIL FROM, not 421, so that the rest of the session (other senders of
 * the same server) goes on. A missing STARTTLS stays `530 5.7.0`.
 */

import type { X509Certificate } from "node:crypto"
import { type Partner, type PolicyLookup, type TlsVersion, tlsVersionRank } from "@mailconnect/policy"
import { verifyClientCertificate } from "./client-certificate"
import { type Refusal, refusal } from "./replies"
import { partnersIdentifiedBy } from "./sender-identity"

export const domainOf = (address: string): string => address.slice(address.lastIndexOf("@") + 1).toLowerCase()

export interface SenderContext {
  /** The partner the MAIL FROM domain belongs to, if any (a claim, not a proof). */
  readonly partner: Partner | undefined
  /**
   * The partner the client certificate identifies unambiguously, when it may act for this
   * envelope: the MAIL FROM is in its domains, or the null path (its bounces).
   */
  readonly member: Partner | undefined
  /** Every partner the certificate matched (names, for refusal texts). */
  readonly certificateMatches: ReadonlyArray<string>
}

export const anonymousSender: SenderContext = {
  partner: undefined,
  member: undefined,
  certificateMatches: [],
}

export interface TlsState {
  readonly secure: boolean
  /** The negotiated protocol (`TLSv1.3`, …), undefined over plaintext. */
  readonly protocol: string | undefined
  readonly clientChain: ReadonlyArray<X509Certificate>
}

export interface MxSenderInput {
  readonly lookup: PolicyLookup
  readonly partners: ReadonlyArray<Partner>
  /** Normalised; `""` for the null reverse path. */
  readonly sender: string
  readonly tls: TlsState
  /** The legacy-TLS inbound listener: only partners with `agreement.legacyTls` may use it. */
  readonly legacyListener: boolean
  readonly now: number
}

const requiresClientCertificate = (partner: Partner): boolean =>
  partner.inbound.requireClientCertificate || partner.tls.mode === "mtls" || partner.groups.length > 0

const belowTls12 = (protocol: string | undefined): boolean =>
  (protocol ?? "").startsWith("TLSv") && tlsVersionRank(protocol as TlsVersion) < 2

const legacyProblem = (input: MxSenderInput, sending: Partner | undefined): Refusal | undefined => {
  const { protocol } = input.tls
  if (!input.legacyListener && !belowTls12(protocol)) return undefined
  const who = sending ? sending.name : input.sender === "" ? "the null sender" : domainOf(input.sender)
  if (!sending?.agreement?.legacyTls)
    return refusal(
      550,
      "5.7.1",
      `${protocol ?? "plaintext"} on the legacy TLS listener is reserved for partners with a legacy TLS agreement; ${who} has none: use TLS 1.2 or later on the standard port`,
      "legacy-tls",
    )
  if (
    protocol !== undefined &&
    tlsVersionRank(protocol as TlsVersion) < tlsVersionRank(sending.tls.minVersion)
  )
    return refusal(
      550,
      "5.7.1",
      `${protocol} is below ${sending.tls.minVersion}, the minimum agreed with ${sending.name}`,
      "legacy-tls",
    )
  return undefined
}

export const checkMxSender = (
  input: MxSenderInput,
): { readonly context: SenderContext } | { readonly refusal: Refusal } => {
  const { lookup, sender, tls, now } = input
  const claimed = sender === "" ? undefined : lookup.partnerFor(domainOf(sender))
  const matches = tls.secure ? partnersIdentifiedBy(input.partners, tls.clientChain, now) : []
  const certificateMatches = matches.map((p) => p.name)
  if (claimed && matches.length > 0 && !matches.includes(claimed))
    return {
      refusal: refusal(
        550,
        "5.7.1",
        `Sender address rejected: the client certificate identifies ${certificateMatches.join(", ")}, not ${claimed.name} (${domainOf(sender)})`,
        "certificate-identity",
      ),
    }
  const unambiguous = matches.length === 1 ? matches[0] : undefined
  const member = claimed
    ? unambiguous === claimed
      ? claimed
      : undefined
    : sender === ""
      ? unambiguous
      : undefined
  const legacy = legacyProblem(input, claimed ?? member)
  if (legacy) return { refusal: legacy }
  const context: SenderContext = { partner: claimed, member, certificateMatches }
  if (!claimed) return { context }
  const mustUseTls = claimed.inbound.requireTls || requiresClientCertificate(claimed)
  if (mustUseTls && !tls.secure)
    return {
      refusal: refusal(
        530,
        "5.7.0",
        `Must issue a STARTTLS command first: mail from ${claimed.name} requires TLS`,
        "tls-required",
      ),
    }
  if (!requiresClientCertificate(claimed) || matches.includes(claimed)) return { context }
  const verdict = verifyClientCertificate({ chain: tls.clientChain, partner: claimed, now })
  if (verdict.ok) return { context }
  return {
    refusal: refusal(
      450,
      "4.7.1",
      `Client certificate required for ${claimed.name}: ${verdict.problem} (${verdict.detail}); try again later`,
      "client-certificate",
    ),
  }
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
  if (sender.member?.groups.some((g) => local.groups.includes(g))) return undefined
  const why =
    sender.certificateMatches.length > 1
      ? `; the client certificate matches ${sender.certificateMatches.join(", ")} and identifies no single member`
      : ""
  return refusal(
    550,
    "5.7.1",
    `${local.domain} accepts mail only from members of closed group ${local.groups.join(", ")}${why}`,
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
