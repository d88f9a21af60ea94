/**
 * `pnpm bench [suite…]`: runs every benchmark suite in `suites/` (or the named ones) one after
 * another and prints their figures. Figures are measurements for the closing notes and for
 * side-by-side comparison; nothing here asserts a time limit.
 */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { BenchSuite } from "./suite"

const dir = join(dirname(fileURLToPath(import.meta.url)), "suites")
const wanted = process.argv.slice(2)
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .sort()
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.ts$/, "")))

for (const file of files) {
  const suite = (await import(join(dir, file))).default as BenchSuite
  console.log(`\n== ${suite.name} (${file})`)
  const started = performance.now()
  await suite.run()
  console.log(`-- ${suite.name}: ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
