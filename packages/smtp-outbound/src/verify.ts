/**
 * Authenticating the peer per policy (DESIGN §5): chain against public roots or the partner CA
 * (OpenSSL's verdict), validity against the attempt's clock, accepted names, SPKI pins. With
 * `trust: pins` only the pins decide; expiry is reported, not enforced.
 */
import type { X509Certificate } from "node:crypto"
import { isIP } from "node:net"
import type { PartnerTls } from "@mailconnect/policy"
import { describeCertificate, spkiPin } from "./certificate"
import { diagnosePinMismatch } from "./diagnosis"
import { CertExpired, CertNameMismatch, CertPinMismatch, CertUntrusted, type DeliveryError } from "./errors"
import type { CertificateEvidence, VerificationEvidence } from "./evidence"

const DAY = 86_400_000
const EXPIRY_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"])

export interface PeerToVerify {
  /** Leaf first. */
  readonly chain: ReadonlyArray<X509Certificate>
  /** OpenSSL's chain verdict (`socket.authorizationError`), undefined when the chain is valid. */
  readonly authorizationError: string | undefined
}

export interface VerifyInput {
  readonly peer: PeerToVerify
  readonly tls: PartnerTls
  /** The host name connected to: the accepted name when `verify.names` is empty. */
  readonly host: string
  readonly server: string
  readonly now: Date
  /** The last certificate this destination presented that passed, for the pin-mismatch diagnosis. */
  readonly previous: CertificateEvidence | undefined
}

export interface Verdict {
  readonly evidence: VerificationEvidence
  readonly error: DeliveryError | undefined
}

const matchName = (cert: X509Certificate, name: string): boolean =>
  (isIP(name) ? cert.checkIP(name) : cert.checkHost(name, { subject: "default" })) !== undefined

export const verifyPeer = (input: VerifyInput): Verdict => {
  const { peer, tls, now } = input
  const leaf = peer.chain[0]
  const verify = tls.verify
  const expectedNames = verify.names.length > 0 ? verify.names : [input.host]
  const anchor = verify.ca ? ("partner-ca" as const) : ("public-roots" as const)
  const common = { server: input.server, phase: "verify" as const, attempts: [] }
  if (!leaf) {
    const error = new CertUntrusted({
      ...common,
      detail: "no peer certificate",
      reason: "NO_PEER_CERTIFICATE",
      anchor,
    })
    return {
      evidence: {
        ok: false,
        failure: error.code,
        trust: verify.trust,
        chain: "NO_PEER_CERTIFICATE",
        anchor,
        expectedNames,
        matchedName: undefined,
        configuredPins: verify.pins,
        matchedPin: undefined,
        expired: false,
        notYetValid: false,
        daysUntilExpiry: 0,
      },
      error,
    }
  }
  const described = describeCertificate(leaf)
  const notBefore = new Date(leaf.validFrom).getTime()
  const notAfter = new Date(leaf.validTo).getTime()
  const expired = now.getTime() > notAfter
  const notYetValid = now.getTime() < notBefore
  const pinsPresented = peer.chain.map(spkiPin)
  const matchedPin = verify.pins.find((pin) => pinsPresented.includes(pin))
  const matchedName = expectedNames.find((name) => matchName(leaf, name))
  const byPins = verify.trust === "pins"
  const chain = byPins ? "not-consulted" : (peer.authorizationError ?? "valid")

  const firstFailure = (): DeliveryError | undefined => {
    if (byPins) {
      if (matchedPin) return undefined
      return pinMismatch()
    }
    if (peer.authorizationError && !EXPIRY_CODES.has(peer.authorizationError)) {
      return new CertUntrusted({
        ...common,
        detail: peer.authorizationError,
        reason: peer.authorizationError,
        anchor,
      })
    }
    if (expired || notYetValid || peer.authorizationError) {
      return new CertExpired({
        ...common,
        detail: `valid ${described.notBefore} to ${described.notAfter}, checked at ${now.toISOString()}`,
        form: notYetValid || peer.authorizationError === "CERT_NOT_YET_VALID" ? "not-yet-valid" : "expired",
        notBefore: described.notBefore,
        notAfter: described.notAfter,
      })
    }
    if (!matchedName) {
      return new CertNameMismatch({
        ...common,
        detail: `certificate names ${described.subjectAltNames.join(", ")}`,
        expected: expectedNames,
        presented: described.subjectAltNames,
      })
    }
    if (verify.pins.length > 0 && !matchedPin) return pinMismatch()
    return undefined
  }

  const pinMismatch = () =>
    new CertPinMismatch({
      ...common,
      detail: `presented ${described.spkiPin}`,
      observedPin: described.spkiPin,
      configuredPins: verify.pins,
      diagnosis: diagnosePinMismatch({
        observed: described,
        previous: input.previous,
        chainValid: peer.authorizationError === undefined,
        nameMatches: matchedName !== undefined,
      }),
    })

  const error = firstFailure()
  return {
    evidence: {
      ok: error === undefined,
      failure: error?.code,
      trust: verify.trust,
      chain,
      anchor,
      expectedNames,
      matchedName,
      configuredPins: verify.pins,
      matchedPin,
      expired,
      notYetValid,
      daysUntilExpiry: Math.floor((notAfter - now.getTime()) / DAY),
    },
    error,
  }
}
