/**
 * Runs one CI script as a child process (never synchronously: the partner lab's servers live in
 * the test process and must keep answering while a step probes them). The process gets its own
 * process group, killed on timeout; output is kept for the report.
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"

export interface ScriptResult {
  readonly code: number
  readonly output: string
}

/** The environment every step starts from: the test's PATH and locale, nothing else of the test's. */
export const baseEnvironment = (): Record<string, string> => {
  const keep = ["PATH", "HOME", "LANG", "TMPDIR", "PNPM_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"]
  return Object.fromEntries(keep.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])))
}

export const runScript = (options: {
  readonly dir: string
  readonly scriptDir: string
  readonly name: string
  readonly shell: ReadonlyArray<string>
  readonly script: string
  readonly env: Readonly<Record<string, string>>
  readonly timeoutMs?: number
}): Promise<ScriptResult> =>
  new Promise((resolve) => {
    const file = join(options.scriptDir, `${options.name.replace(/[^\w.-]+/g, "_")}.sh`)
    writeFileSync(file, options.script)
    const [command, ...args] = options.shell
    const child = spawn(command!, [...args, file], {
      cwd: options.dir,
      env: { ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    })
    let output = ""
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-200_000)
    }
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    const timeoutMs = options.timeoutMs ?? 120_000
    const timer = setTimeout(() => {
      output += `\n[runner] step timed out after ${timeoutMs} ms; killed\n`
      if (child.pid) process.kill(-child.pid, "SIGKILL")
    }, timeoutMs)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? (signal ? 128 : 1), output })
    })
  })
