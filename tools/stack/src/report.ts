/**
 * What the stack tells its user once everything is up: `.local/stack.json` (for scripts and
 * tests, exactly the fields README promises), `.local/stack.env` (for the CLI in another
 * terminal) and the console banner ending in the `mailconnect ready` line. The only secrets
 * printed are the demo credentials; the signing key and certificate keys stay in their files.
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { relative } from "node:path"
import { DASHBOARD_ADMIN, DASHBOARD_VIEWER } from "./apps"
import type { DemoPartners } from "./demo-partners"
import { DEMO_SENDER_DOMAIN, DEMO_USER } from "./demo-user"
import type { StackPaths } from "./paths"
import type { StackPorts } from "./ports"
import type { StackSecrets } from "./secrets"

export interface StackJson {
  readonly submission: { host: string; port: number; user: string; password: string }
  readonly dashboard: { url: string | null; user: string; password: string }
  readonly redisUrl: string
  readonly demoPartners: { good: string; broken: string }
}

export interface ReportInput {
  readonly paths: StackPaths
  readonly ports: StackPorts
  readonly secrets: StackSecrets
  readonly partners: DemoPartners
  readonly redisUrl: string
  readonly prefix: string
  readonly dashboardUrl: string | undefined
  readonly serial: number
}

export const stackJson = (input: ReportInput): StackJson => ({
  submission: {
    host: "127.0.0.1",
    port: input.ports.submission,
    user: DEMO_USER,
    password: input.secrets.demoPassword,
  },
  dashboard: {
    url: input.dashboardUrl ?? null,
    user: DASHBOARD_ADMIN,
    password: input.secrets.dashboardAdminPassword,
  },
  redisUrl: input.redisUrl,
  demoPartners: { good: input.partners.good.domain, broken: input.partners.broken.domain },
})

export const writeStackFiles = (input: ReportInput): void => {
  writeFileSync(input.paths.stackJson, `${JSON.stringify(stackJson(input), null, 2)}\n`, { mode: 0o600 })
  writeFileSync(
    input.paths.stackEnv,
    [
      "# Source in another terminal to point the CLI at this stack: set -a; . .local/stack.env; set +a",
      `REDIS_URL=${input.redisUrl}`,
      `REDIS_PREFIX=${input.prefix}`,
      `MAILCONNECT_TRUSTED_KEYS=${input.paths.signingPub}`,
      `RELAY_DNS_SERVERS=${input.partners.dns.server}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  )
}

/** A Redis URL for the console: user and password of an external REDIS_URL are not shown. */
export const redactUrl = (url: string): string => url.replace(/\/\/[^@/]*@/, "//***@")

const hasSwaks = () => spawnSync("sh", ["-c", "command -v swaks"], { stdio: "ignore" }).status === 0

export const banner = (input: ReportInput): string => {
  const { ports, secrets, partners } = input
  const rel = (p: string) => relative(input.paths.root, p)
  const swaks = [
    `swaks --server 127.0.0.1:${ports.submission} --tls --auth PLAIN`,
    `--auth-user ${DEMO_USER} --auth-password '${secrets.demoPassword}'`,
    `--from ${DEMO_USER}@${DEMO_SENDER_DOMAIN} --to someone@${partners.good.domain}`,
    "--header 'Subject: hello over enforced TLS'",
  ].join(" ")
  const lines = [
    "",
    `  submission    127.0.0.1:${ports.submission} (STARTTLS + AUTH)   user ${DEMO_USER}   password ${secrets.demoPassword}`,
    `  submissions   127.0.0.1:${ports.submissions} (implicit TLS)`,
    `  inbound MX    127.0.0.1:${ports.mx}`,
    `  relay         http://127.0.0.1:${ports.relayHttp}/metrics   logs ${rel(input.paths.logs)}/`,
    input.dashboardUrl
      ? `  dashboard     ${input.dashboardUrl}   ${DASHBOARD_ADMIN} / ${secrets.dashboardAdminPassword}   (read-only: ${DASHBOARD_VIEWER} / ${secrets.dashboardViewerPassword})`
      : "  dashboard     not started (apps/dashboard is not in this checkout)",
    `  redis         ${redactUrl(input.redisUrl)} (prefix ${input.prefix})`,
    `  demo partner  ${partners.good.domain}     enforced TLS, valid certificate   -> delivered`,
    `  demo partner  ${partners.broken.domain}   enforced TLS, expired certificate -> waits (CERT_EXPIRED)`,
    `  dev CA        ${rel(input.paths.pki)}/ca.pem (the relay's certificate chains to it)`,
    "",
    "Send a test mail:",
    `  ${swaks}`,
    ...(hasSwaks()
      ? []
      : ["  (swaks is not installed: apt-get install swaks — or use the Node sender below)"]),
    `  pnpm stack:send someone@${partners.good.domain}`,
    "",
    "Operate it from another terminal:",
    "  set -a; . .local/stack.env; set +a",
    "  pnpm mailconnect fleet status",
    "  pnpm mailconnect queue show <queue id from the 250 reply>",
    "",
    "Ctrl-C stops everything this command started.",
  ]
  return lines.join("\n")
}
