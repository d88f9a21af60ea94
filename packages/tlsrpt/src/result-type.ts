/**
 * Our failure codes as RFC 8460 §4.3 result types. Only failures of TLS negotiation or of the
 * policy that asks for it have one: a refused connection, a timeout or an SMTP reply is not a TLS
 * result (such a session is not counted, or counted as successful once TLS was up).
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import type { ResultType } from "./report"

const RESULT_TYPE: Partial<Record<FailureCode, ResultType>> = {
  STARTTLS_NOT_OFFERED: "starttls-not-supported",
  TLS_PROTOCOL_REJECTED: "validation-failure",
  TLS_HANDSHAKE_FAILED: "validation-failure",
  CERT_UNTRUSTED: "certificate-not-trusted",
  CERT_EXPIRED: "certificate-expired",
  CERT_NAME_MISMATCH: "certificate-host-mismatch",
  CERT_PIN_MISMATCH: "validation-failure",
  CLIENT_CERT_REJECTED: "validation-failure",
  DANE_TLSA_MISMATCH: "validation-failure",
  DNSSEC_BOGUS: "dnssec-invalid",
  MTA_STS_MX_MISMATCH: "validation-failure",
}

/** The result type of a failure code; undefined when the code is not a TLS result. */
export const resultTypeOf = (code: FailureCode): ResultType | undefined => RESULT_TYPE[code]
