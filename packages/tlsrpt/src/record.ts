/**
 * The `_smtp._tls.<domain>` TXT record (RFC 8460 §3): `v=TLSRPTv1; rua=<uri>[,<uri>…]`. Records
 * that do not start with `v=TLSRPTv1` are discarded; if not exactly one remains the domain does
 * not take reports. Only `mailto:` and `https:` URIs are used; a comma inside a URI is `%2C`.
 */
export type Rua =
  | { readonly scheme: "mailto"; readonly uri: string; readonly address: string }
  | { readonly scheme: "https"; readonly uri: string }

export type TlsRptRecord =
  | { readonly _tag: "Record"; readonly rua: ReadonlyArray<Rua>; readonly ignored: ReadonlyArray<string> }
  | { readonly _tag: "NoRecord"; readonly reason: "none" | "several" | "no-rua" }

export const tlsRptName = (domain: string): string => `_smtp._tls.${domain.toLowerCase().replace(/\.$/, "")}`

const ADDRESS = /^[^\s@<>(),;:"\\]+@[a-z0-9.-]+\.?$/i

const parseUri = (uri: string): Rua | undefined => {
  if (/^mailto:/i.test(uri)) {
    const address = decodeURIComponent(uri.slice(7).split("?")[0]!)
    return ADDRESS.test(address) ? { scheme: "mailto", uri, address } : undefined
  }
  if (/^https:\/\//i.test(uri)) {
    try {
      return new URL(uri).protocol === "https:" ? { scheme: "https", uri } : undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

/** The TXT answer (each record as its character-strings) as the domain's reporting record. */
export const parseTlsRptRecords = (txt: ReadonlyArray<ReadonlyArray<string>>): TlsRptRecord => {
  const records = txt.map((parts) => parts.join("")).filter((r) => /^v=TLSRPTv1\s*(;|$)/.test(r))
  if (records.length === 0) return { _tag: "NoRecord", reason: "none" }
  if (records.length > 1) return { _tag: "NoRecord", reason: "several" }
  const fields = records[0]!
    .split(";")
    .map((f) => f.trim())
    .filter((f) => f.length > 0)
  const rua = fields.find((f) => /^rua\s*=/i.test(f))
  if (rua === undefined) return { _tag: "NoRecord", reason: "no-rua" }
  const uris = rua
    .slice(rua.indexOf("=") + 1)
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u.length > 0)
  const parsed = uris.map((uri) => ({ uri, rua: parseUri(uri) }))
  const usable = parsed.flatMap((p) => (p.rua ? [p.rua] : []))
  if (usable.length === 0) return { _tag: "NoRecord", reason: "no-rua" }
  return { _tag: "Record", rua: usable, ignored: parsed.filter((p) => !p.rua).map((p) => p.uri) }
}
