/**
 * Authenticating a DANE next hop (RFC 7672 §3): the peer's certificates against the host's
 * validated TLSA records (`@mailconnect/x509` `verifyDane`), instead of public roots or pins.
 * With TLSA records but none usable, TLS stays mandatory and nothing is authenticated (§2.2).
 */
import { type DaneMatch, isUsableTlsa, type TlsaRecord, verifyDane } from "@mailconnect/x509"
import { describeCertificate } from "./certificate"
import { DaneTlsaMismatch } from "./errors"
import type { VerificationEvidence } from "./evidence"
import type { PeerToVerify, Verdict } from "./verify"

export interface DaneVerifyInput {
  readonly peer: PeerToVerify
  readonly tlsa: ReadonlyArray<TlsaRecord>
  /** Reference identifiers for DANE-TA: the MX host name and the next-hop domain. */
  readonly names: ReadonlyArray<string>
  readonly server: string
  readonly now: Date
}

const DAY = 86_400_000

/** `usage selector matchingType hex`, as `dig` shows a TLSA record. */
export const describeTlsa = (r: TlsaRecord): string =>
  `${r.usage} ${r.selector} ${r.matchingType} ${Buffer.from(r.data).toString("hex")}`

export const verifyDanePeer = (input: DaneVerifyInput): Verdict => {
  const leaf = input.peer.chain[0]
  const usable = input.tlsa.filter(isUsableTlsa)
  const result =
    usable.length === 0 ? undefined : verifyDane(input.peer.chain, usable, input.names, input.now)
  const match: DaneMatch | undefined = result?.ok ? result.match : undefined
  const error =
    result && !result.ok
      ? new DaneTlsaMismatch({
          server: input.server,
          phase: "verify",
          detail: `${result.problem}: ${leaf ? describeCertificate(leaf).spkiPin : "no peer certificate"} against ${usable.length} usable TLSA record(s)`,
          attempts: [],
          problem: result.problem,
          records: usable.map(describeTlsa),
        })
      : undefined
  const at = input.now.getTime()
  const evidence: VerificationEvidence = {
    ok: error === undefined,
    failure: error?.code,
    findings: error ? [error.code] : [],
    trust: "dane",
    chain: usable.length === 0 ? "not-consulted" : "tlsa",
    anchor: "tlsa",
    expectedNames: match?.usage === 3 ? [] : input.names,
    matchedName: match?.name,
    configuredPins: [],
    matchedPin: undefined,
    expired: leaf ? at > new Date(leaf.validTo).getTime() : false,
    notYetValid: leaf ? at < new Date(leaf.validFrom).getTime() : false,
    daysUntilExpiry: leaf ? Math.floor((new Date(leaf.validTo).getTime() - at) / DAY) : 0,
    dane: {
      usable: usable.length,
      ...(match ? { match } : {}),
      ...(result && !result.ok ? { problem: result.problem } : {}),
    },
  }
  return { evidence, error }
}
