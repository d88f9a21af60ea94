/**
 * Parsed YAML → typed source documents. Header first (apiVersion, kind), then the kind's schema
 * with every issue collected (`errors: "all"`) and excess keys refused, each issue mapped to a
 * rule code and a position in the file.
 */
import { Either, ParseResult, Schema } from "effect"
import type { Diagnostic } from "../diagnostic"
import type { RuleCode } from "../rules"
import { locate, type ParsedFile, type PathSegment } from "./parse"
import {
  API_VERSION,
  type ClosedGroupDoc,
  type ConnectorDoc,
  type DefaultsDoc,
  KINDS,
  type Kind,
  type LocalDomainsDoc,
  type PartnerDoc,
  SCHEMA_BY_KIND,
} from "./schema"
import { readStandardSwitches } from "./standard-switches"

export type ValidDoc =
  | { readonly kind: "Defaults"; readonly file: ParsedFile; readonly doc: DefaultsDoc }
  | { readonly kind: "Partner"; readonly file: ParsedFile; readonly doc: PartnerDoc }
  | { readonly kind: "LocalDomains"; readonly file: ParsedFile; readonly doc: LocalDomainsDoc }
  | { readonly kind: "ClosedGroup"; readonly file: ParsedFile; readonly doc: ClosedGroupDoc }
  | { readonly kind: "Connector"; readonly file: ParsedFile; readonly doc: ConnectorDoc }

export interface Validated {
  readonly valid: ValidDoc | undefined
  /** Kind and name a broken file meant to declare, so others' references to it stay quiet. */
  readonly declared: { readonly kind: Kind; readonly name: string | undefined } | undefined
  readonly diagnostics: ReadonlyArray<Diagnostic>
}

export const dotted = (path: ReadonlyArray<PathSegment>): string =>
  path.reduce<string>((text, s) => (typeof s === "number" ? `${text}[${s}]` : text ? `${text}.${s}` : s), "")

export const diagnosticAt = (
  file: ParsedFile,
  path: ReadonlyArray<PathSegment>,
  rule: RuleCode,
  message: string,
  hint: string,
  options: { readonly target?: "key" | "value"; readonly severity?: "error" | "warning" } = {},
): Diagnostic => ({
  file: file.path,
  ...locate(file, path, options.target ?? "value"),
  severity: options.severity ?? "error",
  rule,
  message,
  hint,
})

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const validateFile = (file: ParsedFile): Validated => {
  const value = file.value
  if (!isRecord(value))
    return {
      valid: undefined,
      declared: undefined,
      diagnostics: [
        diagnosticAt(
          file,
          [],
          "KIND-UNKNOWN",
          "the document is not a mapping",
          "start with apiVersion and kind",
        ),
      ],
    }
  const header: Array<Diagnostic> = []
  if (value.apiVersion !== API_VERSION)
    header.push(
      diagnosticAt(
        file,
        value.apiVersion === undefined ? [] : ["apiVersion"],
        "API-VERSION",
        value.apiVersion === undefined
          ? "apiVersion is missing"
          : `apiVersion ${JSON.stringify(value.apiVersion)} is not supported`,
        `write apiVersion: ${API_VERSION}`,
      ),
    )
  const kind = KINDS.find((k) => k === value.kind)
  if (!kind)
    header.push(
      diagnosticAt(
        file,
        value.kind === undefined ? [] : ["kind"],
        "KIND-UNKNOWN",
        value.kind === undefined ? "kind is missing" : `kind ${JSON.stringify(value.kind)} is unknown`,
        `use one of ${KINDS.join(", ")}`,
      ),
    )
  const declared = kind ? { kind, name: typeof value.name === "string" ? value.name : undefined } : undefined
  if (header.length > 0 || !kind) return { valid: undefined, declared, diagnostics: header }

  const switches =
    kind === "Defaults" || kind === "Partner"
      ? readStandardSwitches(file, value)
      : { value, diagnostics: [] as ReadonlyArray<Diagnostic> }
  const decoded = Schema.decodeUnknownEither(SCHEMA_BY_KIND[kind] as Schema.Schema<unknown, unknown>, {
    errors: "all",
    onExcessProperty: "error",
  })(switches.value)
  if (Either.isRight(decoded))
    return {
      valid: { kind, file, doc: decoded.right } as ValidDoc,
      declared,
      diagnostics: switches.diagnostics,
    }
  return {
    valid: undefined,
    declared,
    diagnostics: [...switches.diagnostics, ...issuesToDiagnostics(file, decoded.left)],
  }
}

const issuesToDiagnostics = (file: ParsedFile, error: ParseResult.ParseError): Array<Diagnostic> => {
  const seen = new Set<string>()
  const out: Array<Diagnostic> = []
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    // `optional` is a union with undefined; its "Expected undefined" member issue is noise.
    if (issue.message.startsWith("Expected undefined, actual")) continue
    const path = issue.path.filter((s): s is PathSegment => typeof s === "string" || typeof s === "number")
    // A union reports one issue per member at the same path; the first (annotated) one is enough.
    const key = `${issue._tag === "Missing" || issue._tag === "Unexpected" ? issue._tag : "Value"}:${dotted(path)}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(issueToDiagnostic(file, issue._tag, path, issue.message))
  }
  return out
}

const issueToDiagnostic = (
  file: ParsedFile,
  tag: ParseResult.ArrayFormatterIssue["_tag"],
  path: ReadonlyArray<PathSegment>,
  message: string,
): Diagnostic => {
  const field = dotted(path)
  const parent = dotted(path.slice(0, -1))
  const name = String(path[path.length - 1] ?? "")
  if (tag === "Unexpected") {
    const allowed = [...message.matchAll(/"([^"]+)"/g)].map((m) => m[1]!)
    const near = closest(name, allowed)
    return diagnosticAt(
      file,
      path,
      "UNKNOWN-KEY",
      `unknown key "${name}"${parent ? ` in ${parent}` : ""}`,
      near ? `did you mean "${near}"?` : `allowed here: ${allowed.join(", ")}`,
      { target: "key" },
    )
  }
  if (tag === "Missing")
    return diagnosticAt(
      file,
      path.slice(0, -1),
      "MISSING-FIELD",
      `missing required field "${field}"`,
      `add ${name}${parent ? ` under ${parent}` : ""}`,
    )
  return diagnosticAt(
    file,
    path,
    "INVALID-VALUE",
    `${field || "document"}: ${plainMessage(message)}`,
    "fix the value",
  )
}

/** Effect prints whole type signatures; an operator needs "expected a list". */
const plainMessage = (message: string): string => {
  const match = /^Expected (.*), actual (.*)$/s.exec(message)
  if (!match) return message
  const [, expected, actual] = match as unknown as [string, string, string]
  const shape = expected.startsWith("{")
    ? "a mapping"
    : /^(ReadonlyArray|readonly \[)/.test(expected)
      ? "a list"
      : expected === "string"
        ? "text"
        : expected === "boolean"
          ? "true or false"
          : expected
  return `expected ${shape}, got ${actual.length > 40 ? `${actual.slice(0, 37)}...` : actual}`
}

/** The allowed key within edit distance 2, for "did you mean" hints on typos. */
const closest = (word: string, candidates: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    previous = current
  }
  return previous[b.length]!
}
