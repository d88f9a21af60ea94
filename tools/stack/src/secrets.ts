/**
 * The stack's generated secrets: the demo submission password, the dashboard passwords and the
 * bundle signing key pair. Created once with mode 0600 and reused on every later start.
 */
import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { generateSigningKeyPair } from "@mailconnect/bundle"
import type { StackPaths } from "./paths"

export interface StackSecrets {
  readonly demoPassword: string
  readonly dashboardViewerPassword: string
  readonly dashboardAdminPassword: string
}

const writeSecret = (path: string, text: string) => {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, text, { mode: 0o600 })
}

const password = () => randomBytes(15).toString("base64url")

export const loadOrCreateSecrets = (paths: StackPaths): StackSecrets => {
  if (existsSync(paths.secrets)) return JSON.parse(readFileSync(paths.secrets, "utf8")) as StackSecrets
  const secrets: StackSecrets = {
    demoPassword: password(),
    dashboardViewerPassword: password(),
    dashboardAdminPassword: password(),
  }
  writeSecret(paths.secrets, `${JSON.stringify(secrets, null, 2)}\n`)
  return secrets
}

/** The dev signing key pair, as `mailconnect keys generate --out .local/keys` would write it. */
export const ensureSigningKeys = (paths: StackPaths): { readonly created: boolean } => {
  if (existsSync(paths.signingKey) && existsSync(paths.signingPub)) return { created: false }
  const pair = generateSigningKeyPair()
  writeSecret(paths.signingKey, pair.privatePem)
  writeFileSync(paths.signingPub, pair.publicPem)
  return { created: true }
}
