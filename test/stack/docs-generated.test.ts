/**
 * The generated reference pages are current: docs/policy-reference.md lists every field of the
 * compiler's source schema and every rule code, docs/failure-codes.md every failure code, exactly
 * as `pnpm docs:generate` renders them now.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { FAILURE_CODES } from "@mailconnect/failure-codes"
import { RULE_CODES } from "@mailconnect/policy-compiler"
import { describe, expect, it } from "vitest"
import { GENERATED_DOCS } from "../../tools/stack/src/docs/generate"
import { undescribedFields } from "../../tools/stack/src/docs/policy-reference"
import { schemaFields } from "../../tools/stack/src/docs/schema-fields"
import { ROOT } from "./scratch"

const read = (file: string) => readFileSync(join(ROOT, file), "utf8")

describe("generated docs", () => {
  it.each(GENERATED_DOCS.map((d) => [d.file, d] as const))("%s is current (pnpm docs:generate)", (_, doc) => {
    expect(read(doc.file)).toBe(doc.render())
  })

  it("describes every schema field, and no field the schema lacks", () => {
    expect(undescribedFields()).toEqual({ missing: [], stale: [] })
    const reference = read("docs/policy-reference.md")
    for (const field of schemaFields()) expect(reference).toContain(`| \`${field.path}\` |`)
  })

  it("names every rule code and every failure code", () => {
    const reference = read("docs/policy-reference.md")
    for (const code of RULE_CODES) expect(reference).toContain(`| \`${code}\` |`)
    const failures = read("docs/failure-codes.md")
    for (const code of FAILURE_CODES) expect(failures).toContain(`## ${code}\n`)
  })
})
