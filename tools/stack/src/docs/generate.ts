/**
 * `pnpm docs:generate` — writes the generated reference pages (docs/policy-reference.md,
 * docs/failure-codes.md). `--check` only compares and exits 1 when a page is not current.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { renderFailureCodes } from "./failure-codes"
import { renderPolicyReference } from "./policy-reference"

export const GENERATED_DOCS: ReadonlyArray<{ readonly file: string; readonly render: () => string }> = [
  { file: "docs/policy-reference.md", render: renderPolicyReference },
  { file: "docs/failure-codes.md", render: renderFailureCodes },
]

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..")

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check")
  let stale = 0
  for (const doc of GENERATED_DOCS) {
    const path = join(root, doc.file)
    const text = doc.render()
    const current = (() => {
      try {
        return readFileSync(path, "utf8")
      } catch {
        return ""
      }
    })()
    if (current === text) continue
    if (check) {
      console.error(`${doc.file} is not current; run: pnpm docs:generate`)
      stale++
    } else {
      writeFileSync(path, text)
      console.log(`wrote ${doc.file}`)
    }
  }
  process.exitCode = stale > 0 ? 1 : 0
}
