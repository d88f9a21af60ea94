/** `mailconnect …` as a child process (the launcher, as `pnpm mailconnect` runs it); never rejects. */
import { execFile } from "node:child_process"
import { join } from "node:path"
import { ROOT } from "./policy-repo"

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const mailconnect = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = {},
  cwd = ROOT,
): Promise<CliRun> =>
  new Promise((resolve) => {
    const merged: Record<string, string | undefined> = { ...process.env, ...env }
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k]
    execFile(
      process.execPath,
      [join(ROOT, "tools", "launch", "run.mjs"), "cli", ...args],
      { cwd, env: merged, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
