/**
 * The policy file of RFC 8461 §3.2, parsed by its ABNF: `name: value` lines separated by LF or
 * CRLF, names and values case-sensitive, unknown names ignored, a repeated field other than `mx`
 * ignored after its first occurrence. Pure: text in, a policy or the first rule it breaks out.
 */
import { Either } from "effect"
import { MtaStsPolicyInvalid, type PolicyRule } from "./errors"

export type PolicyMode = "enforce" | "testing" | "none"

export interface MtaStsPolicy {
  readonly mode: PolicyMode
  /** Patterns, lower case, without a trailing dot: `mx.example.net` or `*.example.net`. */
  readonly mx: ReadonlyArray<string>
  /** Seconds, 0 … 31557600. */
  readonly maxAge: number
}

export const MAX_AGE_LIMIT = 31_557_600

const FIELD = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*(.*?)[ \t]*$/
const MAX_AGE = /^[0-9]{1,10}$/
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
const MODES: ReadonlyArray<string> = ["enforce", "testing", "none"]

/** A host name of RFC 5321 `Domain` (LDH labels, at least two), lower case, without a trailing dot. */
export const isDomainName = (name: string): boolean => {
  const labels = name.split(".")
  return name.length <= 253 && labels.length >= 2 && labels.every((label) => LABEL.test(label))
}

/**
 * `["*."] Domain`, lower-cased. One trailing dot is forgiven (`mx.example.net.`): rejecting the
 * whole policy for it would deliver without MTA-STS, the weaker outcome.
 */
export const normalizeMxPattern = (value: string): string | undefined => {
  const pattern = value.toLowerCase().replace(/\.$/, "")
  const domain = pattern.startsWith("*.") ? pattern.slice(2) : pattern
  return isDomainName(domain) ? pattern : undefined
}

export const parsePolicy = (
  domain: string,
  text: string,
): Either.Either<MtaStsPolicy, MtaStsPolicyInvalid> => {
  const invalid = (line: number, rule: PolicyRule, value = "") =>
    Either.left(new MtaStsPolicyInvalid({ domain, line, rule, value: value.slice(0, 100) }))
  const lines = text.split(/\r?\n/)
  const seen = new Set<string>()
  let version: string | undefined
  let mode: PolicyMode | undefined
  let maxAge: number | undefined
  const mx: Array<string> = []
  for (const [index, raw] of lines.entries()) {
    const line = index + 1
    if (raw.trim() === "") continue
    const field = FIELD.exec(raw)
    if (!field) return invalid(line, "field-syntax", raw)
    const [, name, value = ""] = field
    if (name !== "mx") {
      if (seen.has(name!)) continue
      seen.add(name!)
    }
    switch (name) {
      case "version":
        if (value !== "STSv1") return invalid(line, "version-unsupported", value)
        version = value
        break
      case "mode":
        if (!MODES.includes(value)) return invalid(line, "mode-invalid", value)
        mode = value as PolicyMode
        break
      case "max_age": {
        const seconds = Number(value)
        if (!MAX_AGE.test(value) || seconds > MAX_AGE_LIMIT) return invalid(line, "max-age-invalid", value)
        maxAge = seconds
        break
      }
      case "mx": {
        const pattern = normalizeMxPattern(value)
        if (pattern === undefined) return invalid(line, "mx-invalid", value)
        if (!mx.includes(pattern)) mx.push(pattern)
        break
      }
      default:
      // An extension field (RFC 8461 §3.2: ignored by implementations that do not know it).
    }
  }
  if (version === undefined) return invalid(0, "version-missing")
  if (mode === undefined) return invalid(0, "mode-missing")
  if (maxAge === undefined) return invalid(0, "max-age-missing")
  if (mode !== "none" && mx.length === 0) return invalid(0, "mx-missing")
  return Either.right({ mode, mx, maxAge })
}
