/**
 * The processes the stack started, by pid and a marker from their command line, in
 * `.local/pids.json`. Normally every one is stopped on Ctrl-C; if the launcher itself was killed
 * (SIGKILL, a closed terminal), the next start finds the leftovers here and stops them first —
 * but only a pid whose command line or working directory still carries its marker, never an unrelated process that
 * reused the number.
 */
import { existsSync, readFileSync, readlinkSync, writeFileSync } from "node:fs"
import type { StackPaths } from "./paths"

interface Entry {
  readonly name: string
  readonly pid: number
  readonly marker: string
}

const read = (paths: StackPaths): Array<Entry> =>
  existsSync(paths.pids) ? (JSON.parse(readFileSync(paths.pids, "utf8")) as Array<Entry>) : []

const write = (paths: StackPaths, entries: ReadonlyArray<Entry>) =>
  writeFileSync(paths.pids, `${JSON.stringify(entries, null, 2)}\n`)

export const commandLine = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")
  } catch {
    return undefined
  }
}

const workingDirectory = (pid: number): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/cwd`)
  } catch {
    return undefined
  }
}

/** redis-server rewrites its command line, but runs in its data directory: either may carry the marker. */
const isOurs = (entry: Entry) =>
  (commandLine(entry.pid)?.includes(entry.marker) ?? false) ||
  (workingDirectory(entry.pid)?.startsWith(entry.marker) ?? false)

export const recordPid = (paths: StackPaths, entry: Entry) =>
  write(paths, [...read(paths).filter((e) => e.name !== entry.name), entry])

export const forgetPid = (paths: StackPaths, name: string) =>
  write(
    paths,
    read(paths).filter((e) => e.name !== name),
  )

/** SIGTERM to leftovers of a launcher that did not stop cleanly; SIGKILL after 15 s. */
export const stopLeftovers = async (paths: StackPaths, log: (line: string) => void): Promise<void> => {
  const leftovers = read(paths).filter(isOurs)
  for (const entry of leftovers) {
    log(`stopping ${entry.name} (pid ${entry.pid}) left over from an earlier run`)
    process.kill(entry.pid, "SIGTERM")
  }
  const deadline = Date.now() + 15_000
  while (leftovers.some(isOurs) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  for (const entry of leftovers.filter(isOurs)) process.kill(entry.pid, "SIGKILL")
  write(paths, [])
}
