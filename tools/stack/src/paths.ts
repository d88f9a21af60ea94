/**
 * Where the local stack keeps its state: everything under `<repo>/.local/` (gitignored), so a
 * second `pnpm start` finds and reuses it, and `rm -rf .local` is a full reset.
 */
import { join } from "node:path"

export interface StackPaths {
  readonly root: string
  readonly local: string
  /** Demo passwords (mode 0600); printed only as the demo credentials the README promises. */
  readonly secrets: string
  readonly signingKey: string
  readonly signingPub: string
  readonly pki: string
  readonly clientCerts: string
  readonly redisDir: string
  /** The policy the stack publishes: a copy of policies/ plus the demo partners. */
  readonly policies: string
  readonly bundle: string
  readonly usersFile: string
  readonly relayState: string
  readonly logs: string
  readonly ports: string
  readonly pids: string
  readonly stackJson: string
  readonly stackEnv: string
}

export const stackPaths = (root: string): StackPaths => {
  const local = join(root, ".local")
  return {
    root,
    local,
    secrets: join(local, "secrets.json"),
    signingKey: join(local, "keys", "signing.key"),
    signingPub: join(local, "keys", "signing.pub"),
    pki: join(local, "pki"),
    clientCerts: join(local, "pki", "client-certs"),
    redisDir: join(local, "redis"),
    policies: join(local, "stack-policies"),
    bundle: join(local, "bundle.json"),
    usersFile: join(local, "users"),
    relayState: join(local, "relay-state"),
    logs: join(local, "logs"),
    ports: join(local, "ports.json"),
    pids: join(local, "pids.json"),
    stackJson: join(local, "stack.json"),
    stackEnv: join(local, "stack.env"),
  }
}
