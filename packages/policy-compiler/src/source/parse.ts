/**
 * YAML text → a document with source positions. Keeps the `yaml` AST next to the plain value
 * so any later rule can point at the exact key or value it is about.
 */
import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  visit,
} from "yaml"
import type { Diagnostic } from "../diagnostic"

export interface SourceText {
  /** Relative to the policy directory, with `/` separators. */
  readonly path: string
  readonly text: string
}

export interface ParsedFile {
  readonly path: string
  readonly document: Document.Parsed
  readonly lines: LineCounter
  readonly value: unknown
}

export type PathSegment = string | number

export interface Position {
  readonly line: number
  readonly column: number
}

const syntaxError = (path: string, position: Position, message: string, hint: string): Diagnostic => ({
  file: path,
  ...position,
  severity: "error",
  rule: "YAML-SYNTAX",
  message,
  hint,
})

export const parseSource = (
  source: SourceText,
): { readonly parsed: ParsedFile | undefined; readonly diagnostics: ReadonlyArray<Diagnostic> } => {
  const lines = new LineCounter()
  const documents = parseAllDocuments(source.text, { lineCounter: lines, prettyErrors: false })
  if (!Array.isArray(documents) || documents.length === 0)
    return {
      parsed: undefined,
      diagnostics: [
        syntaxError(source.path, { line: 1, column: 1 }, "the file is empty", "write one YAML document"),
      ],
    }
  if (documents.length > 1) {
    const second = documents[1]!
    const at = lines.linePos(second.range[0])
    return {
      parsed: undefined,
      diagnostics: [
        syntaxError(
          source.path,
          { line: at.line, column: at.col },
          `the file holds ${documents.length} YAML documents`,
          "put each document in its own file",
        ),
      ],
    }
  }
  const document = documents[0]!
  if (document.errors.length > 0)
    return {
      parsed: undefined,
      diagnostics: document.errors.map((error) => {
        const at = lines.linePos(error.pos[0])
        return syntaxError(
          source.path,
          { line: at.line, column: at.col },
          firstLine(error.message),
          "fix the YAML syntax",
        )
      }),
    }
  let value: unknown
  try {
    value = document.toJS({ maxAliasCount: 100 })
  } catch (error) {
    // toJS throws on an alias without its anchor and on alias bombs (maxAliasCount): bad input,
    // to be reported like any syntax error rather than crash `policy check`.
    return {
      parsed: undefined,
      diagnostics: [
        syntaxError(
          source.path,
          firstAlias(document, lines),
          firstLine(error instanceof Error ? error.message : String(error)),
          "define each anchor before its alias, and do not expand aliases recursively",
        ),
      ],
    }
  }
  return { parsed: { path: source.path, document, lines, value }, diagnostics: [] }
}

const firstAlias = (document: Document.Parsed, lines: LineCounter): Position => {
  let position: Position = { line: 1, column: 1 }
  visit(document, {
    Alias(_, node) {
      if (!node.range) return undefined
      const at = lines.linePos(node.range[0])
      position = { line: at.line, column: at.col }
      return visit.BREAK
    },
  })
  return position
}

const firstLine = (message: string): string =>
  message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")

const positionOfOffset = (file: ParsedFile, offset: number): Position => {
  const at = file.lines.linePos(offset)
  return { line: at.line, column: at.col }
}

/**
 * Where `path` is in the file. `key` points at the mapping key (for unknown keys), `value` at
 * the value. A path that does not exist (a missing field) resolves to its deepest existing
 * ancestor, which is where the operator has to add it.
 */
export const locate = (
  file: ParsedFile,
  path: ReadonlyArray<PathSegment>,
  target: "key" | "value" = "value",
): Position => {
  let node: Node | null | undefined = file.document.contents as Node | null
  let position: Position = node?.range ? positionOfOffset(file, node.range[0]) : { line: 1, column: 1 }
  for (const [i, segment] of path.entries()) {
    const last = i === path.length - 1
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === segment)
      if (!pair) return position
      const keyNode = pair.key as Node
      if (last && target === "key" && keyNode.range) return positionOfOffset(file, keyNode.range[0])
      const value = pair.value as Node | null
      node = value
      const range = value?.range ?? keyNode.range
      if (range) position = positionOfOffset(file, range[0])
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined
      if (!item?.range) return position
      node = item
      position = positionOfOffset(file, item.range[0])
    } else {
      return position
    }
  }
  return position
}
