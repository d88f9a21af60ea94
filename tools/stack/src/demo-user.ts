/**
 * The demo submission user in `.local/users` (the relay's RELAY_USERS_FILE). Users added with
 * `mailconnect users add --file .local/users` are kept; only the demo entry is (re)written when
 * it is missing or its password no longer matches `.local/secrets.json`.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { formatUsersFile, hashPassword, parseUsersFile, verifyPassword } from "@mailconnect/smtp-inbound"
import type { StackPaths } from "./paths"

export const DEMO_USER = "demo"
export const DEMO_SENDER_DOMAIN = "acme.example"

export const ensureDemoUser = async (paths: StackPaths, password: string): Promise<void> => {
  const users = existsSync(paths.usersFile)
    ? new Map(parseUsersFile(readFileSync(paths.usersFile, "utf8")).users)
    : new Map()
  const current = users.get(DEMO_USER)
  if (current && (await verifyPassword(password, current.hash))) return
  users.set(DEMO_USER, {
    name: DEMO_USER,
    hash: await hashPassword(password),
    domains: [DEMO_SENDER_DOMAIN, "lawfirm.example"],
  })
  writeFileSync(paths.usersFile, formatUsersFile(users.values()), { mode: 0o600 })
}
