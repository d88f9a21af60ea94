/**
 * A lab server process (knotd, unbound: one process each) in its own process group. `stop()`
 * signals the group and waits until no process of it is left. Should the test process end
 * without calling it: on a normal exit a hook SIGKILLs every group still running (and removes
 * the lab directories), and on a crash or SIGKILL the kernel does — each server runs under
 * `setpriv --pdeathsig KILL`, so it dies with the process that started it. Nothing outlives the
 * test run.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { delimiter, join } from "node:path"
import { systemCommand, tiedToParent } from "@mailconnect/test-redis"

export interface Daemon {
  readonly pid: number
  /** The last few kilobytes of stdout and stderr. */
  readonly output: () => string
  readonly running: () => boolean
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when no process of it is left. */
  readonly stop: (graceMs?: number) => Promise<void>
}

/** The command's path: from PATH, else /usr/sbin (where Debian puts servers; a plain PATH may lack it). */
export { systemCommand }

/** Like `systemCommand`, or an error that says what to install. */
export const requireCommand = (name: string, install: string): string => {
  const path = systemCommand(name)
  if (path === undefined) throw new Error(`${name} is missing; install it: apt-get install ${install}`)
  return path
}

const groups = new Set<number>()
const directories = new Set<string>()
let hooked = false

const killGroup = (pgid: number, signal: NodeJS.Signals | 0): boolean => {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

const hookExit = () => {
  if (hooked) return
  hooked = true
  process.once("exit", () => {
    for (const pgid of groups) killGroup(pgid, "SIGKILL")
    for (const dir of directories) rmSync(dir, { recursive: true, force: true })
  })
}

/** Removed at exit unless `release`d before (the lab removes it itself on `stop()`). */
export const removeAtExit = (dir: string): { readonly release: () => void } => {
  hookExit()
  directories.add(dir)
  return { release: () => void directories.delete(dir) }
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Whether a live (not zombie) process of the group is left. From /proc where there is one: a
 * zombie waiting for its reaper still counts for kill(-pgid, 0).
 */
const groupAlive = (pgid: number): boolean => {
  let pids: Array<string>
  try {
    pids = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))
  } catch {
    return killGroup(pgid, 0)
  }
  return pids.some((pid) => {
    try {
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so read after the last ")".
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return Number(pgrp) === pgid && state !== "Z"
    } catch {
      return false
    }
  })
}

/** Resolves true once no live process of the group is left, false after `ms`. */
const groupGone = async (pgid: number, ms: number): Promise<boolean> => {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(10)) {
    if (!groupAlive(pgid)) return true
  }
  return !groupAlive(pgid)
}

export const startDaemon = (command: string, args: ReadonlyArray<string>, install: string): Promise<Daemon> =>
  new Promise((resolve, reject) => {
    const path = requireCommand(command, install)
    const child = spawn(...tiedToParent(path, args), { detached: true, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000)
    }
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    child.once("error", reject)
    child.once("spawn", () => {
      const pid = child.pid!
      hookExit()
      groups.add(pid)
      resolve({
        pid,
        output: () => output,
        running: () => child.exitCode === null && child.signalCode === null,
        stop: async (graceMs = 4_000) => {
          killGroup(pid, "SIGTERM")
          if (!(await groupGone(pid, graceMs))) killGroup(pid, "SIGKILL")
          await exited(child)
          await groupGone(pid, graceMs)
          groups.delete(pid)
        },
      })
    })
  })
