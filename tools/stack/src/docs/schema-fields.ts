/**
 * The fields of the policy source language, read from its Effect Schemas (the compiler's own
 * `SCHEMA_BY_KIND`), so the reference lists exactly what `policy check` accepts.
 */

// The source schemas are internal to the compiler package (its index exports the compiler, not
// the language); read them in place rather than copy them.
import { SCHEMA_BY_KIND } from "@mailconnect/policy-compiler"
import { SchemaAST } from "effect"

export type PolicyKind = keyof typeof SCHEMA_BY_KIND

export interface SchemaField {
  readonly kind: PolicyKind
  /** Dotted path; `[]` marks list items, e.g. `agreement.technicalContacts[].email`. */
  readonly path: string
  readonly type: string
  readonly required: boolean
}

const withoutUndefined = (ast: SchemaAST.AST): SchemaAST.AST => {
  if (SchemaAST.isUnion(ast)) {
    const types = ast.types.filter((t) => !SchemaAST.isUndefinedKeyword(t))
    return types.length === 1 ? types[0]! : ast
  }
  return ast
}

const base = (ast: SchemaAST.AST): SchemaAST.AST => {
  const inner = withoutUndefined(ast)
  if (SchemaAST.isRefinement(inner)) return base(inner.from)
  if (SchemaAST.isTransformation(inner)) return base(inner.from)
  return inner
}

const describeType = (ast: SchemaAST.AST): string => {
  const b = base(ast)
  if (SchemaAST.isStringKeyword(b)) return "text"
  if (SchemaAST.isBooleanKeyword(b)) return "boolean"
  if (SchemaAST.isNumberKeyword(b)) return "number"
  if (SchemaAST.isLiteral(b)) return `\`${String(b.literal)}\``
  if (SchemaAST.isTypeLiteral(b)) return "object"
  if (SchemaAST.isTupleType(b)) {
    const item = b.rest[0]?.type ?? b.elements[0]?.type
    const nonEmpty = b.elements.length > 0 ? "non-empty " : ""
    return item ? `${nonEmpty}list of ${describeType(item)}` : "list"
  }
  if (SchemaAST.isUnion(b)) return b.types.map(describeType).join(" or ")
  return String(b._tag)
}

const walk = (kind: PolicyKind, ast: SchemaAST.AST, prefix: string, out: Array<SchemaField>) => {
  const b = base(ast)
  if (SchemaAST.isTypeLiteral(b)) {
    for (const p of b.propertySignatures) {
      const path = prefix === "" ? String(p.name) : `${prefix}.${String(p.name)}`
      out.push({ kind, path, type: describeType(p.type), required: !p.isOptional })
      walk(kind, p.type, path, out)
    }
  } else if (SchemaAST.isTupleType(b)) {
    const item = b.rest[0]?.type ?? b.elements[0]?.type
    if (item) walk(kind, item, `${prefix}[]`, out)
  }
}

export const schemaFields = (): ReadonlyArray<SchemaField> => {
  const out: Array<SchemaField> = []
  for (const [kind, schema] of Object.entries(SCHEMA_BY_KIND)) walk(kind as PolicyKind, schema.ast, "", out)
  return out
}
