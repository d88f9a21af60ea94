/**
 * The small part of GitHub Actions' expression language and GitLab's `rules: if:` syntax that the
 * workflow files in this repository use — enough to run them locally, and strict: anything else
 * throws, so a workflow edit that needs more fails the loop test instead of being misread.
 *
 * GitHub: `${{ a.b.c }}`, `'literal'`, `a || b`, `a && b`, `a == b`, `a != b`, `always()`,
 * `success()`, `failure()`; a missing property is '' (falsy), as on GitHub.
 * GitLab: `$VAR`, `"literal"`, `==`, `!=`, `&&`, `||`; an undefined variable is null.
 */

export type Context = Readonly<Record<string, unknown>>

const lookup = (context: Context, path: string): unknown => {
  let value: unknown = context
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object") return ""
    value = (value as Record<string, unknown>)[part]
  }
  return value ?? ""
}

/** Splits on a top-level operator, ignoring operators inside quotes. */
const splitTop = (text: string, operator: string): Array<string> => {
  const parts: Array<string> = []
  let quote: string | undefined
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quote) {
      if (c === quote) quote = undefined
    } else if (c === "'" || c === '"') quote = c
    else if (text.startsWith(operator, i)) {
      parts.push(text.slice(start, i))
      start = i + operator.length
      i += operator.length - 1
    }
  }
  parts.push(text.slice(start))
  return parts.map((p) => p.trim())
}

export interface StepStatus {
  /** No earlier step of the job failed. */
  readonly success: boolean
}

/** Evaluates one GitHub expression (without the `${{ }}`). */
export const evaluateGithub = (expression: string, context: Context, status: StepStatus): unknown => {
  const or = splitTop(expression, "||")
  if (or.length > 1) {
    for (const part of or) {
      const value = evaluateGithub(part, context, status)
      if (value) return value
    }
    return evaluateGithub(or.at(-1)!, context, status)
  }
  const and = splitTop(expression, "&&")
  if (and.length > 1) {
    let value: unknown = true
    for (const part of and) {
      value = evaluateGithub(part, context, status)
      if (!value) return value
    }
    return value
  }
  for (const op of ["==", "!="] as const) {
    const sides = splitTop(expression, op)
    if (sides.length === 2) {
      const equal =
        String(evaluateGithub(sides[0]!, context, status)) ===
        String(evaluateGithub(sides[1]!, context, status))
      return op === "==" ? equal : !equal
    }
  }
  const term = expression.trim()
  if (/^'[^']*'$/.test(term)) return term.slice(1, -1)
  if (term === "always()") return true
  if (term === "success()") return status.success
  if (term === "failure()") return !status.success
  if (/^(true|false)$/.test(term)) return term === "true"
  if (/^[A-Za-z_][\w-]*(\.[\w-]+)*$/.test(term)) return lookup(context, term)
  throw new Error(`expression not supported by the local runner: ${term}`)
}

/** Replaces every `${{ … }}` in a string. */
export const interpolateGithub = (text: string, context: Context, status: StepStatus): string =>
  text.replace(/\$\{\{(.*?)\}\}/g, (_, expression: string) =>
    String(evaluateGithub(expression, context, status)),
  )

/** A step's `if:` (with or without `${{ }}`); absent means `success()`. */
export const githubCondition = (condition: unknown, context: Context, status: StepStatus): boolean => {
  if (condition === undefined) return status.success
  const text = String(condition)
    .trim()
    .replace(/^\$\{\{(.*)\}\}$/s, "$1")
  const uses = /\b(always|success|failure)\(\)/.test(text)
  // GitHub adds success() && to a condition that names no status function.
  return Boolean(evaluateGithub(text, context, status)) && (uses || status.success)
}

/** Evaluates a GitLab `rules: if:` expression against CI/CD variables. */
export const evaluateGitlab = (expression: string, variables: Readonly<Record<string, string>>): boolean => {
  const or = splitTop(expression, "||")
  if (or.length > 1) return or.some((part) => evaluateGitlab(part, variables))
  const and = splitTop(expression, "&&")
  if (and.length > 1) return and.every((part) => evaluateGitlab(part, variables))
  const value = (term: string): string | null => {
    const t = term.trim()
    if (/^"[^"]*"$/.test(t)) return t.slice(1, -1)
    const variable = /^\$(\w+)$/.exec(t)
    if (variable) return variables[variable[1]!] ?? null
    if (t === "null") return null
    throw new Error(`rules expression not supported by the local runner: ${t}`)
  }
  for (const op of ["==", "!="] as const) {
    const sides = splitTop(expression, op)
    if (sides.length === 2) {
      const equal = value(sides[0]!) === value(sides[1]!)
      return op === "==" ? equal : !equal
    }
  }
  const single = value(expression)
  return single !== null && single !== ""
}

/** `$NAME` and `${NAME}` in a GitLab variable value, from the variables defined so far. */
export const expandGitlab = (text: string, variables: Readonly<Record<string, string>>): string =>
  text.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (_, braced?: string, bare?: string) => variables[(braced ?? bare)!] ?? "",
  )

/** `policies/**\/*` and friends: a glob with `**`, `*` and literal parts. */
export const globMatches = (pattern: string, file: string): boolean => {
  let regex = ""
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.startsWith("**/", i)) {
      regex += "(?:.*/)?"
      i += 2
    } else if (pattern.startsWith("**", i)) {
      regex += ".*"
      i += 1
    } else if (pattern[i] === "*") regex += "[^/]*"
    else regex += pattern[i]!.replace(/[.+?^${}()|[\]\\]/g, "\\$&")
  }
  return new RegExp(`^${regex}$`).test(file)
}
