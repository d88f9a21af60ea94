/**
 * A delivery error's structured reason (`@mailconnect/failure-codes` `FailureReason`), for the
 * job data: the fields that vary within a cause, taken from the tagged error, never from its text.
 */
import type { FailureReason } from "@mailconnect/failure-codes"
import type { DeliveryError } from "./errors"

export const reasonOf = (error: DeliveryError): FailureReason | undefined => {
  switch (error._tag) {
    case "CertPinMismatch":
      return {
        _tag: "PinMismatch",
        observedPin: error.observedPin,
        configuredPins: error.configuredPins,
        looksLike: error.diagnosis.kind,
        comparedWith: error.diagnosis.comparedWith,
        pinToAdd: error.diagnosis.pinToAdd,
      }
    case "CertNameMismatch":
      return { _tag: "NameMismatch", expected: error.expected, presented: error.presented }
    case "CertExpired":
      return { _tag: "CertExpired", form: error.form, notBefore: error.notBefore, notAfter: error.notAfter }
    case "CertUntrusted":
      return { _tag: "Untrusted", anchor: error.anchor, reason: error.reason }
    case "StartTlsNotOffered":
      return { _tag: "StartTls", form: error.form }
    case "TlsProtocolRejected":
      return { _tag: "TlsProtocol", minVersion: error.minVersion }
    case "ClientCertRejected":
      return {
        _tag: "ClientCert",
        form: error.form,
        ...(error.certificateName === undefined ? {} : { certificateName: error.certificateName }),
      }
    case "DnsNoRoute":
      return { _tag: "NoRoute", reason: error.reason }
    case "DaneTlsaMismatch":
      return { _tag: "Dane", problem: error.problem, records: error.records }
    case "DnssecBogus":
      return { _tag: "DnssecBogus", name: error.name, type: error.type }
    case "MtaStsMxMismatch":
      return { _tag: "MtaStsMx", policyId: error.policyId, patterns: error.patterns, hosts: error.hosts }
    case "RequireTlsUnmet":
      return { _tag: "RequireTls", form: error.form }
    case "CircuitOpen":
      return {
        _tag: "CircuitOpen",
        openUntil: error.openUntil,
        consecutiveFailures: error.consecutiveFailures,
      }
    default:
      return undefined
  }
}
