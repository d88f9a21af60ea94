/**
 * The stack's relay (both roles: submission, implicit-TLS submission and inbound MX listeners,
 * delivery workers) and the dashboard, each one process started the way `pnpm relay` and
 * `pnpm dashboard` start them (no wrapper process in between, so SIGTERM reaches the app itself
 * and its drain runs), configured only by environment variables (apps/relay/relay.env.sample).
 */
import { existsSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import type { DemoPartners } from "./demo-partners"
import type { StackPaths } from "./paths"
import { RELAY_HOSTNAME, type StackPki } from "./pki"
import type { StackPorts } from "./ports"
import { answersHttp, type ProcessSpec } from "./processes"
import type { StackSecrets } from "./secrets"

export const DASHBOARD_VIEWER = "viewer"
export const DASHBOARD_ADMIN = "admin"

/** `node --import tsx apps/<app>/src/main.ts`: one process per app, so SIGTERM reaches the app itself. */
const tsxApp = (app: string) => ({
  command: process.execPath,
  args: ["--import", "tsx", join("apps", app, "src", "main.ts")],
  marker: join("apps", app, "src", "main.ts"),
})

/** The relay as `pnpm relay` starts it: tools/launch/run.mjs (a cached esbuild bundle, in-process). */
const launchedApp = (app: string) => ({
  command: process.execPath,
  args: [join("tools", "launch", "run.mjs"), app],
  marker: `${join("tools", "launch", "run.mjs")} ${app}`,
})

export interface AppContext {
  readonly paths: StackPaths
  readonly ports: StackPorts
  readonly pki: StackPki
  readonly secrets: StackSecrets
  readonly partners: DemoPartners
  readonly redisUrl: string
  readonly prefix: string
}

export const relaySpec = (ctx: AppContext): ProcessSpec => {
  mkdirSync(ctx.paths.relayState, { recursive: true })
  const { command, args, marker } = launchedApp("relay")
  return {
    name: "relay",
    command,
    args,
    marker,
    env: {
      REDIS_URL: ctx.redisUrl,
      REDIS_PREFIX: ctx.prefix,
      RELAY_ID: "stack-relay-1",
      // As apps/relay/relay.env.sample recommends: fewer malloc arenas, less RSS for the same CPU.
      MALLOC_ARENA_MAX: "2",
      RELAY_ROLES: "ingress,delivery",
      RELAY_HTTP_HOST: "127.0.0.1",
      RELAY_HTTP_PORT: String(ctx.ports.relayHttp),
      RELAY_STATE_DIR: ctx.paths.relayState,
      MAILCONNECT_TRUSTED_KEYS: ctx.paths.signingPub,
      RELAY_HOSTNAME,
      RELAY_SMTP_HOST: "127.0.0.1",
      RELAY_SMTP_SUBMISSION_PORT: String(ctx.ports.submission),
      RELAY_SMTP_SUBMISSIONS_PORT: String(ctx.ports.submissions),
      RELAY_SMTP_MX_PORT: String(ctx.ports.mx),
      RELAY_TLS_CERT: ctx.pki.relayCertFile,
      RELAY_TLS_KEY: ctx.pki.relayKeyFile,
      RELAY_USERS_FILE: ctx.paths.usersFile,
      RELAY_CLIENT_CERTS: ctx.paths.clientCerts,
      // The lab DNS server: MX look-ups for any other domain end in DNS_NO_ROUTE, never on the Internet.
      RELAY_DNS_SERVERS: ctx.partners.dns.server,
      RELAY_HEARTBEAT_INTERVAL: "2s",
      RELAY_HEARTBEAT_TTL: "6s",
      RELAY_POLICY_POLL_INTERVAL: "2s",
      RELAY_DRAIN_TIMEOUT: "10s",
    },
    ready: answersHttp(`http://127.0.0.1:${ctx.ports.relayHttp}/readyz`, 200),
    startTimeout: "180 seconds",
    stopTimeout: "30 seconds",
  }
}

export const dashboardPresent = (paths: StackPaths) =>
  existsSync(join(paths.root, "apps", "dashboard", "src", "main.ts"))

export const dashboardUrl = (ports: StackPorts) => `http://127.0.0.1:${ports.dashboard}/`

export const dashboardSpec = (ctx: AppContext): ProcessSpec => {
  const { command, args, marker } = tsxApp("dashboard")
  return {
    name: "dashboard",
    command,
    args,
    marker,
    env: {
      REDIS_URL: ctx.redisUrl,
      REDIS_PREFIX: ctx.prefix,
      MAILCONNECT_TRUSTED_KEYS: ctx.paths.signingPub,
      DASHBOARD_HOST: "127.0.0.1",
      DASHBOARD_PORT: String(ctx.ports.dashboard),
      DASHBOARD_USER: DASHBOARD_VIEWER,
      DASHBOARD_PASSWORD: ctx.secrets.dashboardViewerPassword,
      DASHBOARD_ADMIN_USER: DASHBOARD_ADMIN,
      DASHBOARD_ADMIN_PASSWORD: ctx.secrets.dashboardAdminPassword,
    },
    // Any answer (a 401 asking for credentials) means it serves.
    ready: answersHttp(dashboardUrl(ctx.ports)),
    startTimeout: "180 seconds",
    stopTimeout: "20 seconds",
  }
}
