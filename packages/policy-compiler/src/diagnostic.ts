/**
 * Diagnostics: what the compiler tells an operator about a policy directory. Every diagnostic
 * names a file (relative to the policy directory), a 1-based line and column, a stable rule
 * code and a fix hint, printed as `path:line:col: error|warning RULE-CODE message (hint)` so
 * editors and CI annotators can jump to the spot.
 */
import { RULES, type RuleCode } from "./rules"

export type Severity = "error" | "warning"

export interface Diagnostic {
  readonly file: string
  readonly line: number
  readonly column: number
  readonly severity: Severity
  readonly rule: RuleCode
  readonly message: string
  readonly hint: string
}

export const formatDiagnostic = (d: Diagnostic): string =>
  `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.rule} ${d.message} (${d.hint})`

/** Stable order: by file, then position, then rule, so output and golden files never shuffle. */
export const sortDiagnostics = (diagnostics: ReadonlyArray<Diagnostic>): Array<Diagnostic> =>
  [...diagnostics].sort(
    (a, b) =>
      compareText(a.file, b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      compareText(a.rule, b.rule) ||
      compareText(a.message, b.message),
  )

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** `--strict`: a warning (an overdue review, an expiring CA) blocks the build like an error. */
export const promoteWarnings = (diagnostics: ReadonlyArray<Diagnostic>): Array<Diagnostic> =>
  diagnostics.map((d) => (d.severity === "warning" ? { ...d, severity: "error" } : d))

export const hasErrors = (diagnostics: ReadonlyArray<Diagnostic>): boolean =>
  diagnostics.some((d) => d.severity === "error")

/** `2 errors, 1 warning` — the last line of `policy check`. */
export const summarizeDiagnostics = (diagnostics: ReadonlyArray<Diagnostic>): string => {
  const errors = diagnostics.filter((d) => d.severity === "error").length
  const warnings = diagnostics.length - errors
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`
  return `${plural(errors, "error")}, ${plural(warnings, "warning")}`
}

export const ruleSeverity = (rule: RuleCode): Severity => RULES[rule].severity
