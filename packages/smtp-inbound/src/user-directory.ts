/**
 * The submission users, read from `RELAY_USERS_FILE` and re-read when the file changes (checked
 * at most once a second), so `mailconnect users add` takes effect without a restart. A file that
 * cannot be read keeps the last good set; problems are logged, never the hashes.
 */
import { readFileSync, statSync } from "node:fs"
import { type ParsedUsers, parseUsersFile, type UserRecord } from "./users"

export interface UserDirectory {
  readonly current: () => ReadonlyMap<string, UserRecord>
}

export const fileUserDirectory = (
  path: string | undefined,
  warn: (message: string) => void,
): UserDirectory => {
  let users: ReadonlyMap<string, UserRecord> = new Map()
  let mtime = -1
  let checkedAt = 0
  const reload = () => {
    if (!path) return
    const now = Date.now()
    if (now - checkedAt < 1000) return
    checkedAt = now
    try {
      const stat = statSync(path)
      if (stat.mtimeMs === mtime) return
      const parsed: ParsedUsers = parseUsersFile(readFileSync(path, "utf8"))
      for (const problem of parsed.problems) warn(`users file ${path}: ${problem}`)
      users = parsed.users
      mtime = stat.mtimeMs
    } catch (e) {
      warn(`users file ${path}: ${(e as Error).message}; keeping ${users.size} known users`)
    }
  }
  reload()
  return {
    current: () => {
      reload()
      return users
    },
  }
}
