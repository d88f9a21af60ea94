/**
 * HTTP Basic credentials against the two configured accounts, in constant time: user name and
 * password are hashed (SHA-256, so both sides have the same length) and compared with
 * `timingSafeEqual`, and every account is checked on every request, so neither the response
 * time nor an early exit tells which part was wrong or which account was tried.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { Redacted } from "effect"
import type { Account, Role } from "./config"

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

interface Verifier {
  readonly user: Buffer
  readonly password: Buffer
  readonly role: Role
}

export interface Credentials {
  readonly user: string
  readonly password: string
}

/** `Authorization: Basic base64(user:password)` → the pair; undefined when absent or malformed. */
export const parseBasic = (header: string | undefined): Credentials | undefined => {
  if (header === undefined) return undefined
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header)
  if (!match) return undefined
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  if (colon < 0) return undefined
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/** Returns the role of the matching account, or undefined. */
export const makeAuthenticator = (accounts: ReadonlyArray<Account>) => {
  const verifiers: ReadonlyArray<Verifier> = accounts.map((a) => ({
    user: digest(a.user),
    password: digest(Redacted.value(a.password)),
    role: a.role,
  }))
  return (credentials: Credentials | undefined): Role | undefined => {
    // Unknown or malformed credentials still pay for the full comparison.
    const user = digest(credentials?.user ?? "")
    const password = digest(credentials?.password ?? "")
    let role: Role | undefined
    for (const v of verifiers) {
      const userOk = timingSafeEqual(user, v.user)
      const passwordOk = timingSafeEqual(password, v.password)
      if (userOk && passwordOk && credentials !== undefined && role === undefined) role = v.role
    }
    return role
  }
}
