/**
 * `tls.dane` and `tls.mtaSts` (Defaults and Partner) are the words `on` and `off`, read before
 * the schema runs. The `yaml` library reads YAML 1.2 by default, where unquoted `on` is the
 * string "on"; a document that declares `%YAML 1.1` gets booleans for unquoted on/off instead,
 * and those two tokens are taken back as the words they were written as. Any other value
 * (`true`, `yes`, `On`, a number) is TLS-STANDARD-INVALID, reported here at its position and left
 * out of the value the schema sees, so it is reported once and the rest of the file still checks.
 */
import { isScalar } from "yaml"
import type { Diagnostic } from "../diagnostic"
import { locate, type ParsedFile } from "./parse"

export const STANDARD_SWITCHES = ["dane", "mtaSts"] as const
export type StandardSwitchField = (typeof STANDARD_SWITCHES)[number]

const WORDS: ReadonlyArray<unknown> = ["on", "off"]

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The token as written, for an unquoted scalar (`on` read as true under YAML 1.1). */
const plainToken = (file: ParsedFile, field: StandardSwitchField): string | undefined => {
  const node = file.document.getIn(["tls", field], true)
  return isScalar(node) && node.type === "PLAIN" && typeof node.source === "string" ? node.source : undefined
}

export const readStandardSwitches = (
  file: ParsedFile,
  value: Record<string, unknown>,
): { readonly value: Record<string, unknown>; readonly diagnostics: ReadonlyArray<Diagnostic> } => {
  const tls = value.tls
  if (!isRecord(tls)) return { value, diagnostics: [] }
  const read: Record<string, unknown> = { ...tls }
  const diagnostics: Array<Diagnostic> = []
  for (const field of STANDARD_SWITCHES) {
    if (!(field in tls)) continue
    const written = tls[field]
    if (WORDS.includes(written)) continue
    const token = plainToken(file, field)
    if (typeof written === "boolean" && WORDS.includes(token)) {
      read[field] = token
      continue
    }
    delete read[field]
    diagnostics.push({
      file: file.path,
      ...locate(file, ["tls", field]),
      severity: "error",
      rule: "TLS-STANDARD-INVALID",
      message: `tls.${field}: expected on or off, got ${token ?? JSON.stringify(written)}`,
      hint: `write ${field}: on or ${field}: off, or leave it out to mean on; true, false, yes and no are not accepted`,
    })
  }
  return { value: { ...value, tls: read }, diagnostics }
}
