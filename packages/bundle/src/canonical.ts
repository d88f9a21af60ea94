/**
 * Canonical JSON in the spirit of RFC 8785 (JCS): object keys sorted by UTF-16 code units,
 * no insignificant whitespace, numbers and strings as ECMAScript `JSON.stringify` writes them.
 * The same value always yields the same bytes, so a digest or signature over them is stable.
 * `undefined` members are dropped (as JSON.stringify does); non-finite numbers are refused.
 */
import { Data } from "effect"

/** Thrown (not returned) because it always means a programming error in the caller's data. */
export class NotCanonicalizable extends Data.TaggedError("NotCanonicalizable")<{
  readonly path: string
  readonly reason: string
}> {}

export const canonicalize = (value: unknown): string => {
  const parts: Array<string> = []
  write(value, parts, "$")
  return parts.join("")
}

const write = (value: unknown, out: Array<string>, path: string): void => {
  if (value === null) {
    out.push("null")
    return
  }
  switch (typeof value) {
    case "boolean":
      out.push(value ? "true" : "false")
      return
    case "string":
      out.push(JSON.stringify(value))
      return
    case "number":
      if (!Number.isFinite(value)) throw new NotCanonicalizable({ path, reason: "non-finite number" })
      out.push(JSON.stringify(value))
      return
    case "object":
      if (Array.isArray(value)) {
        out.push("[")
        value.forEach((item, i) => {
          if (i > 0) out.push(",")
          write(item === undefined ? null : item, out, `${path}[${i}]`)
        })
        out.push("]")
        return
      }
      writeObject(value as Record<string, unknown>, out, path)
      return
    default:
      throw new NotCanonicalizable({ path, reason: `${typeof value} has no JSON form` })
  }
}

const writeObject = (value: Record<string, unknown>, out: Array<string>, path: string): void => {
  const keys = Object.keys(value)
    .filter((key) => value[key] !== undefined)
    .sort()
  out.push("{")
  keys.forEach((key, i) => {
    if (i > 0) out.push(",")
    out.push(JSON.stringify(key), ":")
    write(value[key], out, `${path}.${key}`)
  })
  out.push("}")
}
