/** The few MIME encodings a DSN needs: RFC 2047 encoded words and quoted-printable bodies. */

const isPlainAscii = (text: string): boolean => /^[\x20-\x7e]*$/.test(text)

/** A header value safe for any transport: ASCII as is, anything else as one B-encoded word per chunk. */
export const encodeHeaderValue = (text: string): string => {
  if (isPlainAscii(text)) return text
  const words: Array<string> = []
  // Encoded words are limited to 75 characters; 45 bytes of UTF-8 stay below that. Never split a code point.
  let chunk = ""
  for (const ch of text) {
    if (Buffer.byteLength(chunk + ch, "utf8") > 45) {
      words.push(chunk)
      chunk = ""
    }
    chunk += ch
  }
  if (chunk) words.push(chunk)
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, "utf8").toString("base64")}?=`).join("\r\n ")
}

/** Quoted-printable (RFC 2045 §6.7) with CRLF line ends and soft breaks at 76 characters. */
export const quotedPrintable = (text: string): string =>
  text.replace(/\r?\n/g, "\n").split("\n").map(encodeQpLine).join("\r\n")

const encodeQpLine = (line: string): string => {
  let encoded = ""
  const bytes = Buffer.from(line, "utf8")
  bytes.forEach((byte, i) => {
    const last = i === bytes.length - 1
    const printable =
      (byte >= 33 && byte <= 126 && byte !== 61) || (byte === 32 && !last) || (byte === 9 && !last)
    encoded += printable ? String.fromCharCode(byte) : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`
  })
  const out: Array<string> = []
  while (encoded.length > 76) {
    let cut = 75
    // Do not split an =XX escape across a soft line break.
    if (encoded[cut - 1] === "=") cut -= 1
    else if (encoded[cut - 2] === "=") cut -= 2
    out.push(`${encoded.slice(0, cut)}=`)
    encoded = encoded.slice(cut)
  }
  out.push(encoded)
  return out.join("\r\n")
}

/** RFC 5322 date-time in UTC, e.g. `Sat, 28 Nov 2026 09:00:00 +0000`. */
export const rfc5322Date = (epochMs: number): string => {
  const d = new Date(epochMs)
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${days[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
}
