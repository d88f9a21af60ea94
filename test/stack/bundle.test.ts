/**
 * The launcher's bundles (tools/launch/run.mjs), as `npm start`, the tests and the bench run them.
 * V8 keeps a script's whole source on the heap, two bytes per character once one character above
 * U+00FF is in it: a single `’` in a dependency's comment made the relay's 7.9 MB bundle take
 * 15 MiB of every relay's heap. So a bundle is ASCII only (no comments; esbuild escapes strings),
 * its licence comments are kept next to it, and its source map still names our sources.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const ROOT = join(import.meta.dirname, "..", "..")
const CACHE = join(ROOT, "node_modules", ".cache", "mailconnect")

const firstNonAscii = (bytes: Buffer): number => bytes.findIndex((byte) => byte > 0x7f)

describe("the launcher's bundles", () => {
  for (const [app, entry] of [
    ["relay", "apps/relay/src/main.ts"],
    ["cli", "apps/cli/src/main.ts"],
  ] as const) {
    it(`${app}: ASCII only, licences beside it, a map that names our sources`, () => {
      // Builds only when an input changed; waits on another process's build (the launcher's lock).
      execFileSync(process.execPath, [join(ROOT, "tools", "launch", "run.mjs"), "--build", app], {
        cwd: ROOT,
        stdio: "pipe",
      })
      const bundle = readFileSync(join(CACHE, `${app}.mjs`))
      expect(firstNonAscii(bundle)).toBe(-1)
      // Without comments: the license banners of bundled dependencies are not in the code…
      expect(bundle.includes("MIT License")).toBe(false)
      // …but beside it.
      expect(readFileSync(join(CACHE, `${app}.mjs.LEGAL.txt`), "utf8")).toMatch(/MIT License/)
      const map = JSON.parse(readFileSync(join(CACHE, `${app}.mjs.map`), "utf8")) as { sources: string[] }
      expect(map.sources.some((source) => source.endsWith(entry))).toBe(true)
      expect(bundle.toString("latin1")).toMatch(/\/\/# sourceMappingURL=\S+\.mjs\.map\s*$/)
    })
  }
})
