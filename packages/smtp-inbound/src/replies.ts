/**
 * Refusals as values: an SMTP code, the enhanced status (RFC 3463) and the text. The
 * `reason` names the refusal in metrics. `toSmtpError` turns one into what smtp-server sends.
 */
export interface Refusal {
  readonly code: number
  readonly enhanced: string
  readonly text: string
  readonly reason: RefusalReason
}

export type RefusalReason =
  | "tls-required"
  | "client-certificate"
  | "closed-group"
  | "relay-denied"
  | "sender-not-allowed"
  | "queue-unavailable"
  | "message-too-large"
  | "no-policy"
  | "bad-address"
  | "certificate-identity"
  | "legacy-tls"
  | "memory-budget"
  | "storage-full"
  | "client-limit"

export const refusal = (code: number, enhanced: string, text: string, reason: RefusalReason): Refusal => ({
  code,
  enhanced,
  text,
  reason,
})

/** smtp-server sends `err.responseCode err.message`; our message starts with the enhanced status. */
export const toSmtpError = (r: Refusal): Error & { responseCode: number; reason: RefusalReason } =>
  Object.assign(new Error(`${r.enhanced} ${r.text}`), { responseCode: r.code, reason: r.reason })
