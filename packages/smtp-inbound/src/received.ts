/** The `Received:` trace header (RFC 5321 §4.4), recording TLS protocol and cipher (RFC 3848 `with`). */
export interface ReceivedInput {
  readonly heloName: string
  readonly remoteAddress: string
  readonly hostname: string
  readonly queueId: string
  readonly tls: { readonly protocol: string; readonly cipher: string } | undefined
  readonly authenticated: boolean
  /** The connector the client matched (its servers relay without AUTH). */
  readonly connector?: string | undefined
  readonly recipient: string | undefined
  readonly date: string
}

const clean = (text: string) => text.replace(/[^\x21-\x7e]/g, "?").slice(0, 255)

export const receivedHeader = (r: ReceivedInput): string => {
  const protocol = `ESMTP${r.tls ? "S" : ""}${r.authenticated ? "A" : ""}`
  const tls = r.tls ? ` (${clean(r.tls.protocol)}:${clean(r.tls.cipher)})` : ""
  const lines = [
    `Received: from ${clean(r.heloName) || "unknown"} ([${clean(r.remoteAddress)}])${r.connector ? ` (connector ${clean(r.connector)})` : ""}`,
    `\tby ${r.hostname} (mailconnect) with ${protocol}${tls} id ${r.queueId}`,
    ...(r.recipient ? [`\tfor <${clean(r.recipient)}>`] : []),
  ]
  lines[lines.length - 1] += `; ${r.date}`
  return `${lines.join("\r\n")}\r\n`
}
