/**
 * RFC 8689 §5: `TLS-Required: No` in the message header asks that the recipient's TLS policies
 * (DANE, MTA-STS) not be enforced for this message. Ignored when MAIL FROM carried REQUIRETLS
 * (the envelope's demand wins, §5). Only the header section is read, unfolded.
 */

const HEAD_LIMIT = 64 * 1024

/**
 * A message's header section as text: the bytes before its first empty line (CRLF, bare LF or
 * mixed line ends), at most 64 KiB; found in the bytes, so only the header is decoded.
 */
export const headerSection = (message: Buffer): string => {
  const head = message.subarray(0, HEAD_LIMIT)
  const ends = ["\r\n\r\n", "\n\n", "\n\r\n"].map((blank) => head.indexOf(blank)).filter((i) => i >= 0)
  return head.toString("latin1", 0, ends.length > 0 ? Math.min(...ends) : head.length)
}

/** `TLS-Required: No` among these header lines (a header section, `headerSection`). */
export const saysTlsRequiredNo = (headers: string): boolean =>
  // Nearly every message lacks the field: no unfolding and splitting for those.
  /tls-required/i.test(headers) &&
  headers
    .replace(/\r?\n[ \t]+/g, " ")
    .split(/\r?\n/)
    .some((line) => /^tls-required[ \t]*:[ \t]*no[ \t]*$/i.test(line))

/** The same for a whole message: only its header block is decoded. */
export const hasTlsRequiredNo = (message: Buffer): boolean => saysTlsRequiredNo(headerSection(message))

/** What the sender asked of TLS for this message: REQUIRETLS, else the header's opt-out. */
export const tlsDemandOf = (
  requireTls: boolean,
  headers: string,
): { readonly requireTls: boolean; readonly tlsRequiredNo: boolean } => ({
  requireTls,
  tlsRequiredNo: !requireTls && saysTlsRequiredNo(headers),
})
