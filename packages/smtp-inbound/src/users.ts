/**
 * Submission users: a text file, one user a line, `name:scrypt$N$r$p$<salt b64>$<hash b64>:domain,domain`.
 * Passwords are salted scrypt hashes (never stored or logged in clear); comparison is constant
 * time. `domains` are the sender domains the user may use in MAIL FROM (`*` for any local one
 * is deliberately not offered: list them).
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from "node:crypto"
import { promisify } from "node:util"
import { toALabel } from "@mailconnect/policy"

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>

export interface UserRecord {
  readonly name: string
  readonly hash: string
  readonly domains: ReadonlyArray<string>
}

const PARAMS = { N: 16384, r: 8, p: 1 }
const KEY_LENGTH = 32
const NAME = /^[A-Za-z0-9._@+-]{1,128}$/

export const isValidUserName = (name: string): boolean => NAME.test(name)

export const hashPassword = async (password: string): Promise<string> => {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, KEY_LENGTH, { ...PARAMS, maxmem: 64 * 1024 * 1024 })
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString("base64")}$${key.toString("base64")}`
}

export const verifyPassword = async (password: string, hash: string): Promise<boolean> => {
  const parts = hash.split("$")
  if (parts.length !== 6 || parts[0] !== "scrypt") return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4]!, "base64")
  const expected = Buffer.from(parts[5]!, "base64")
  if (!Number.isInteger(N) || N > 2 ** 20 || expected.length === 0) return false
  const key = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 256 * 1024 * 1024 })
  return timingSafeEqual(key, expected)
}

export interface ParsedUsers {
  readonly users: ReadonlyMap<string, UserRecord>
  /** `line N: reason` for lines that were skipped. */
  readonly problems: ReadonlyArray<string>
}

export const parseUsersFile = (text: string): ParsedUsers => {
  const users = new Map<string, UserRecord>()
  const problems: Array<string> = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) return
    const [name, hash, domains] = line.split(":")
    if (!name || !isValidUserName(name) || !hash?.startsWith("scrypt$") || domains === undefined) {
      problems.push(`line ${i + 1}: expected name:scrypt$…:domain[,domain]`)
      return
    }
    const listed = domains
      .split(",")
      .map((d) => d.trim())
      .filter(Boolean)
    // The one domain form (A-labels), as MAIL FROM is normalised: `müller.de` matches `xn--mller-kva.de`.
    const allowed = listed.flatMap((d) => {
      const ascii = toALabel(d)
      if (ascii === undefined) problems.push(`line ${i + 1}: ${d} is not a valid domain`)
      return ascii === undefined ? [] : [ascii]
    })
    users.set(name, { name, hash, domains: allowed })
  })
  return { users, problems }
}

export const formatUsersFile = (users: Iterable<UserRecord>): string =>
  `# mailconnect submission users: name:scrypt-hash:allowed sender domains\n${[...users]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((u) => `${u.name}:${u.hash}:${u.domains.join(",")}`)
    .join("\n")}\n`
