/**
 * Discovery of RFC 8461 §3.1 from the TXT records of `_mta-sts.<domain>`: each record's
 * character-strings concatenated, records not starting with `v=STSv1;` discarded, and exactly one
 * remaining record that parses by the ABNF, else no policy. Pure.
 */

export type RecordDiscovery =
  | { readonly _tag: "Found"; readonly id: string }
  | { readonly _tag: "Absent"; readonly reason: "no-record" | "invalid-record" | "multiple-records" }

const VERSION_PREFIX = /^v=STSv1[ \t]*;/
const ID = /^[A-Za-z0-9]{1,32}$/
const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/

/**
 * The `id` of an STSv1 record (`v=STSv1; id=20240101T00; ext=value;`), or undefined when the
 * record breaks the grammar or has no id. A repeated id: the first wins.
 */
export const parseStsRecord = (record: string): string | undefined => {
  const [version, ...rest] = record.split(";")
  if (version === undefined || !/^v=STSv1[ \t]*$/.test(version) || rest.length === 0) return undefined
  let id: string | undefined
  for (const [i, part] of rest.entries()) {
    const field = part.replace(/^[ \t]+/, "").replace(/[ \t]+$/, "")
    // One optional trailing ";" (possibly followed by white space) ends the record.
    if (field === "" && i === rest.length - 1) continue
    const eq = field.indexOf("=")
    if (eq < 1) return undefined
    const name = field.slice(0, eq)
    const value = field.slice(eq + 1)
    if (name === "id") {
      if (!ID.test(value)) return undefined
      id ??= value
    } else if (!EXT_NAME.test(name) || !EXT_VALUE.test(value)) {
      return undefined
    }
  }
  return id
}

/** `records`: each TXT record as its character-strings, as `Resolver#resolveTxt` returns them. */
export const discoverFromTxt = (records: ReadonlyArray<ReadonlyArray<string>>): RecordDiscovery => {
  const candidates = records.map((strings) => strings.join("")).filter((text) => VERSION_PREFIX.test(text))
  if (candidates.length === 0) return { _tag: "Absent", reason: "no-record" }
  if (candidates.length > 1) return { _tag: "Absent", reason: "multiple-records" }
  const id = parseStsRecord(candidates[0]!)
  return id === undefined ? { _tag: "Absent", reason: "invalid-record" } : { _tag: "Found", id }
}
