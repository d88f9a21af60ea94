/** `pnpm mailconnect …` inside a scratch copy, pointed at its running stack by .local/stack.env. */
import { execFile } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"

export const stackEnv = (dir: string): Record<string, string> => {
  const file = join(dir, ".local", "stack.env")
  if (!existsSync(file)) return {}
  return Object.fromEntries(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  )
}

export interface ShellResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs one shell line in `dir` with extra environment; never rejects. */
export const shell = (dir: string, line: string, env: Record<string, string> = {}): Promise<ShellResult> =>
  new Promise((resolve) => {
    execFile(
      "bash",
      ["-c", line],
      { cwd: dir, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })

/** The JSON document a `--json` command printed (log lines may precede it). */
export const jsonOf = <A>(stdout: string): A => JSON.parse(stdout.slice(stdout.indexOf("\n{") + 1 || 0)) as A
