/**
 * Golden files (Postfix's .in/.ref style): the expected output lives next to the tests under
 * fixtures/golden and is compared byte for byte. `UPDATE_GOLDEN=1` rewrites them; review the
 * git diff before committing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures")

export const expectGolden = (name: string, actual: string): void => {
  const file = join(FIXTURES, "golden", name)
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.CI) throw new Error(`golden file ${name} is missing`)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, actual)
  }
  expect(actual).toBe(readFileSync(file, "utf8"))
}
