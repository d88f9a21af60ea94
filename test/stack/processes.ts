/**
 * Process facts for the stack tests, read from /proc: which processes belong to a scratch copy
 * (their working directory or command line lies in it), and running `pnpm …` inside a copy.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync, readFileSync, readlinkSync } from "node:fs"

const procText = (pid: number, file: string) => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8")
  } catch {
    return undefined
  }
}

export const isAlive = (pid: number): boolean => {
  const stat = procText(pid, "stat")
  // A zombie has exited; only its parent has not reaped it yet.
  return stat !== undefined && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
}

/** Every live process (but this one) whose cwd or command line lies inside `dir`. */
export const processesIn = (dir: string): Array<{ pid: number; command: string }> =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && isAlive(pid))
    .flatMap((pid) => {
      const command = procText(pid, "cmdline")?.replaceAll("\0", " ").trim() ?? ""
      let cwd = ""
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`)
      } catch {}
      return cwd.startsWith(dir) || command.includes(dir) ? [{ pid, command }] : []
    })

export interface Run {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

/** Runs a command in `cwd` in its own process group (so a signal can reach the whole group). */
export const runIn = (
  cwd: string,
  command: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
): Run => {
  const child = spawn(command, [...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  })
  let output = ""
  child.stdout?.on("data", (c) => {
    output += c.toString()
  })
  child.stderr?.on("data", (c) => {
    output += c.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}
