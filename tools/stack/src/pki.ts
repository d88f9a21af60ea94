/**
 * The stack's development PKI under `.local/pki`: one dev root CA that issues the relay's SMTP
 * server certificate, its client certificate for mtls partners, and the two demo partners'
 * server certificates (the broken one expired on purpose). Minted once with @mailconnect/test-pki
 * and reused until the valid certificates come within 30 days of expiry; never for production.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { createRootCa, writePemFiles } from "@mailconnect/test-pki"
import type { StackPaths } from "./paths"

export const RELAY_HOSTNAME = "relay.mailconnect.local"
/** The client certificate name the example mtls partners (court, notary) refer to. */
export const RELAY_CLIENT_CERT_NAME = "relay-client-2026"

export interface DemoServerCert {
  readonly name: string
  readonly cert: string
  readonly key: string
}

export interface StackPki {
  readonly caFile: string
  readonly caPem: string
  readonly relayCertFile: string
  readonly relayKeyFile: string
  readonly good: DemoServerCert
  readonly broken: DemoServerCert
}

const DAY = 86_400_000
const manifest = (paths: StackPaths) => join(paths.pki, "pki.json")

const load = (paths: StackPaths): StackPki => {
  const read = (name: string) => readFileSync(join(paths.pki, name), "utf8")
  return {
    caFile: join(paths.pki, "ca.pem"),
    caPem: read("ca.pem"),
    relayCertFile: join(paths.pki, "relay.crt"),
    relayKeyFile: join(paths.pki, "relay.key"),
    good: { name: "mx.good-partner.demo", cert: read("good-partner.crt"), key: read("good-partner.key") },
    broken: {
      name: "mx.broken-partner.demo",
      cert: read("broken-partner.crt"),
      key: read("broken-partner.key"),
    },
  }
}

const isCurrent = (paths: StackPaths, now: Date): boolean => {
  if (!existsSync(manifest(paths))) return false
  const { renewAfter } = JSON.parse(readFileSync(manifest(paths), "utf8")) as { renewAfter: string }
  return Date.parse(renewAfter) > now.getTime()
}

export const loadOrCreatePki = async (
  paths: StackPaths,
  now = new Date(),
): Promise<{ readonly pki: StackPki; readonly created: boolean }> => {
  if (isCurrent(paths, now)) return { pki: load(paths), created: false }
  const notAfter = new Date(now.getTime() + 365 * DAY)
  const root = await createRootCa({
    commonName: "mailconnect dev root",
    organization: "mailconnect local stack",
  })
  const relay = await root.issueServer({ names: [RELAY_HOSTNAME, "localhost", "127.0.0.1"], notAfter })
  const client = await root.issueClient({ names: [RELAY_HOSTNAME], commonName: "relay client", notAfter })
  const good = await root.issueServer({ names: ["mx.good-partner.demo"], notAfter })
  const broken = await root.issueServer({ names: ["mx.broken-partner.demo"], validity: "expired" })
  await writePemFiles(paths.pki, {
    "ca.pem": root.certPem,
    "relay.crt": relay.chainPem,
    "relay.key": relay.keyPem,
    "good-partner.crt": good.chainPem,
    "good-partner.key": good.keyPem,
    "broken-partner.crt": broken.chainPem,
    "broken-partner.key": broken.keyPem,
    "pki.json": `${JSON.stringify({ renewAfter: new Date(notAfter.getTime() - 30 * DAY).toISOString() })}\n`,
  })
  await writePemFiles(paths.clientCerts, {
    [`${RELAY_CLIENT_CERT_NAME}.crt`]: client.chainPem,
    [`${RELAY_CLIENT_CERT_NAME}.key`]: client.keyPem,
  })
  return { pki: load(paths), created: true }
}
