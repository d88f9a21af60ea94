/**
 * RFC 8689 §5: `TLS-Required: No` in the message header asks that the recipient's TLS policies
 * (DANE, MTA-STS) not be enforced for this message. Ignored when MAIL FROM carried REQUIRETLS
 * (the envelope's demand wins, §5). Only the header section is read, unfolded.
 */

/** The header section: everything before the first empty line (or the whole text without one). */
const headerSection = (message: Buffer): string => {
  const text = message.toString("latin1")
  const end = text.search(/\r?\n\r?\n/)
  return end === -1 ? text : text.slice(0, end)
}

export const hasTlsRequiredNo = (message: Buffer): boolean =>
  headerSection(message)
    .replace(/\r?\n[ \t]+/g, " ")
    .split(/\r?\n/)
    .some((line) => /^tls-required[ \t]*:[ \t]*no[ \t]*$/i.test(line))

/** What the sender asked of TLS for this message: REQUIRETLS, else the header's opt-out. */
export const tlsDemandOf = (
  requireTls: boolean,
  message: Buffer,
): { readonly requireTls: boolean; readonly tlsRequiredNo: boolean } => ({
  requireTls,
  tlsRequiredNo: !requireTls && hasTlsRequiredNo(message),
})
