/**
 * What a pin mismatch looks like (DESIGN §5): the same key in a renewed certificate, a new key
 * under the same names and issuer (the partner rotated), or a different issuer or names (a
 * provider change — or interception). Compared with the last certificate that passed for this
 * destination when one is known, else with what the policy expects (trusted chain, accepted name).
 */
import type { PinDiagnosis } from "./errors"
import type { CertificateEvidence } from "./evidence"

export interface DiagnosisInput {
  readonly observed: CertificateEvidence
  readonly previous: CertificateEvidence | undefined
  readonly chainValid: boolean
  readonly nameMatches: boolean
}

const sameNames = (a: CertificateEvidence, b: CertificateEvidence): boolean =>
  a.subject === b.subject &&
  a.subjectAltNames.length === b.subjectAltNames.length &&
  [...a.subjectAltNames].sort().every((name, i) => name === [...b.subjectAltNames].sort()[i])

export const diagnosePinMismatch = (input: DiagnosisInput): PinDiagnosis => {
  const { observed, previous } = input
  const pinToAdd = observed.spkiPin
  if (previous) {
    const kind =
      observed.spkiPin === previous.spkiPin
        ? "same-key-renewed"
        : sameNames(observed, previous) && observed.issuer === previous.issuer
          ? "new-key-same-names-issuer"
          : "different-issuer-or-names"
    return { kind, comparedWith: "previous-certificate", pinToAdd }
  }
  const kind =
    input.chainValid && input.nameMatches ? "new-key-same-names-issuer" : "different-issuer-or-names"
  return { kind, comparedWith: "policy", pinToAdd }
}
