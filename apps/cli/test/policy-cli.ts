/** Runs the real `mailconnect` entry point as a child process, the way operators and CI do. */
import { execFile } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("../../..", import.meta.url))
// The same launcher as `pnpm mailconnect` (a cached single-file bundle): one process, fast start.
const LAUNCH = join(ROOT, "tools", "launch", "run.mjs")

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const mailconnect = (
  args: ReadonlyArray<string>,
  env: Record<string, string | undefined> = {},
): Promise<Run> =>
  new Promise((resolve) => {
    const merged = { ...process.env, ...env }
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k]
    execFile(
      process.execPath,
      [LAUNCH, "cli", ...args],
      { cwd: ROOT, env: merged, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `mailconnect-${prefix}-`))
