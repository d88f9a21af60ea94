/**
 * Customer connectors on the inbound MX port: whether this session's MAIL FROM may relay to
 * recipients that are not ours because the client is one of a customer's own mail servers. Pure:
 * the listener passes what the session has learnt (client address, TLS, client certificate chain).
 *
 * A connector matches when the client address is in one of its networks (if it lists any) *and*
 * its client certificate passes the connector's CA, names and pins (if it requires one) *and* TLS
 * is up where it requires TLS. Several matching connectors are separate grants: the transaction
 * relays when any of them may send as the MAIL FROM domain (the null sender — the customer's own
 * bounces — included). Everything else is inbound MX, exactly as for a stranger: only our local
 * domains as recipients. That fallback is why no answer here opens anything.
 *
 * Plaintext from a connector's networks is refused at MAIL FROM (530 5.7.0) when every connector
 * matching the address requires TLS, as Postfix's per-client `reject_plaintext_session`. A
 * network-matched connector whose certificate or sender domain does not fit leaves a refusal for
 * the recipients it would have relayed to, so the customer's operator reads why instead of a
 * plain "relay access denied": 450 4.7.1 for a certificate (during a rollover the customer's queue
 * keeps the mail, as for partners), 550 5.7.1 for a sender domain the connector may not use.
 */
import type { X509Certificate } from "node:crypto"
import type { Connector } from "@mailconnect/policy"
import { verifyClientChain } from "./client-certificate"
import { domainOf } from "./decisions"
import type { ActiveConnector } from "./ingress-policy"
import { type Refusal, refusal } from "./replies"

export interface ConnectorSession {
  /** As the socket reports it (`::ffff:` mapped IPv4 included). */
  readonly remoteAddress: string
  readonly secure: boolean
  readonly clientChain: ReadonlyArray<X509Certificate>
}

export type ConnectorDecision =
  /** Relay through this connector: recipients anywhere, the submission rules for closed groups. */
  | { readonly _tag: "Relay"; readonly connector: Connector }
  /** Refuse the MAIL FROM. */
  | { readonly _tag: "Refuse"; readonly refusal: Refusal }
  /** Inbound MX; `remote` answers recipients that are not ours when a connector nearly matched. */
  | { readonly _tag: "InboundMx"; readonly remote: Refusal | undefined }

/** `*.suffix` covers the names below suffix; an exact domain only itself. */
const covers = (patterns: ReadonlyArray<string>, domain: string): boolean =>
  patterns.some((p) => (p.startsWith("*.") ? domain.endsWith(p.slice(1)) : p === domain))

const names = (connectors: ReadonlyArray<Connector>) => connectors.map((c) => c.name).join(", ")

export const decideConnector = (input: {
  readonly connectors: ReadonlyArray<ActiveConnector>
  readonly session: ConnectorSession
  /** Normalised; `""` for the null reverse path. */
  readonly sender: string
  readonly now: number
}): ConnectorDecision => {
  const { session, sender, now } = input
  if (input.connectors.length === 0) return { _tag: "InboundMx", remote: undefined }
  const byNetwork = input.connectors
    .filter((c) => c.fromNetwork(session.remoteAddress))
    .map((c) => c.connector)
  if (!session.secure && byNetwork.length > 0 && byNetwork.every((c) => c.requireTls))
    return {
      _tag: "Refuse",
      refusal: refusal(
        530,
        "5.7.0",
        `Must issue a STARTTLS command first: connector ${names(byNetwork)} requires TLS`,
        "tls-required",
      ),
    }
  // A certificate-only connector can match only inside TLS, once the chain is known.
  const certificateOnly = session.secure
    ? input.connectors.filter((c) => c.connector.networks.length === 0).map((c) => c.connector)
    : []
  const verdicts = new Map<Connector, ReturnType<typeof verifyClientChain>>()
  const certificateOk = (c: Connector): boolean => {
    if (!c.clientCertificate) return true
    const verdict = verifyClientChain({
      chain: session.clientChain,
      verify: c.clientCertificate,
      ownDomains: [],
      now,
    })
    verdicts.set(c, verdict)
    return verdict.ok
  }
  const matched = [...byNetwork, ...certificateOnly].filter(
    (c) => (session.secure || !c.requireTls) && certificateOk(c),
  )
  const grant = matched.find((c) => sender === "" || covers(c.senderDomains, domainOf(sender)))
  if (grant) return { _tag: "Relay", connector: grant }
  if (matched.length > 0)
    return {
      _tag: "InboundMx",
      remote: refusal(
        550,
        "5.7.1",
        `Relay access denied: connector ${names(matched)} may relay only for ${[...new Set(matched.flatMap((c) => c.senderDomains))].join(", ")}, not ${domainOf(sender)}`,
        "sender-not-allowed",
      ),
    }
  const uncertified = byNetwork.find((c) => verdicts.get(c)?.ok === false)
  const verdict = uncertified && verdicts.get(uncertified)
  if (uncertified && verdict && !verdict.ok)
    return {
      _tag: "InboundMx",
      remote: refusal(
        450,
        "4.7.1",
        `Client certificate required by connector ${uncertified.name}: ${verdict.problem} (${verdict.detail}); try again later`,
        "client-certificate",
      ),
    }
  return { _tag: "InboundMx", remote: undefined }
}
