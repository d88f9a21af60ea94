/**
 * The dashboard's Express application: guards first (so nothing, not even a font file, answers
 * without credentials), then bull-board at `/queues`, our static files, and our pages.
 * Pages run their `DashboardData` effect per request and render a failure page instead of
 * throwing, so a Redis outage shows as a 503 that names its cause.
 */
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { QueueAuditShape, QueueOpsShape } from "@mailconnect/delivery-queue"
import type { Queue } from "bullmq"
import { Clock, Effect, Either, Runtime } from "effect"
import express, { type Express, type RequestHandler } from "express"
import { BOARD_PATH, bullBoardByRole } from "./bull-board"
import type { Account } from "./config"
import type { DashboardDataShape, DataFailure } from "./dashboard-data"
import { adminForActions, requireCredentials, roleOf, sameOriginWrites, securityHeaders } from "./guards"
import { page, type SafeHtml, type Tab } from "./html"
import { failureBody, failureStatus } from "./pages/error-page"
import { fleetBody } from "./pages/fleet-page"
import { healthBody } from "./pages/health-page"
import { policyBody } from "./pages/policy-page"
import { tlsReportsBody } from "./pages/tlsrpt-page"
import { queueRoutes } from "./queue-routes"
import { traceRoutes } from "./trace-routes"

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const fontDir = (pkg: string) => dirname(require.resolve(`${pkg}/400.css`))

export interface AppOptions {
  readonly accounts: ReadonlyArray<Account>
  /** The delivery queue of every shard (bull-board shows one entry each). */
  readonly queues: ReadonlyArray<Queue>
  readonly data: DashboardDataShape
  readonly runtime: Runtime.Runtime<never>
  /** Queue management (the `/queue` page and its admin actions). */
  readonly queueOps: QueueOpsShape
  readonly queueAudit: QueueAuditShape
}

export const makeApp = (options: AppOptions): Express => {
  const run = Runtime.runPromise(options.runtime)
  const app = express()
  app.disable("x-powered-by")
  app.set("etag", false)

  const view =
    <A>(
      tab: Tab,
      title: string,
      data: Effect.Effect<A, DataFailure>,
      body: (value: A, now: number) => SafeHtml,
    ): RequestHandler =>
    (_req, res, next) => {
      run(Effect.all([Effect.either(data), Clock.currentTimeMillis]))
        .then(([result, now]) => {
          const content = Either.match(result, {
            onLeft: (failure) => ({ status: failureStatus(failure), body: failureBody(failure) }),
            onRight: (value) => ({ status: 200, body: body(value, now) }),
          })
          res
            .status(content.status)
            .type("html")
            .send(page({ title, tab, role: roleOf(res), generatedAt: now, body: content.body }))
        })
        .catch(next)
    }

  app.use(securityHeaders)
  app.use(requireCredentials(options.accounts))
  app.use(sameOriginWrites)
  app.use(`${BOARD_PATH}/api`, adminForActions)
  app.use(BOARD_PATH, bullBoardByRole(options.queues, roleOf))

  const statics = { index: false, dotfiles: "deny", fallthrough: true } as const
  app.use("/assets", express.static(join(here, "..", "assets"), statics))
  app.use("/fonts/ibm-plex-sans", express.static(fontDir("@fontsource/ibm-plex-sans"), statics))
  app.use("/fonts/ibm-plex-mono", express.static(fontDir("@fontsource/ibm-plex-mono"), statics))

  app.get("/", (_req, res) => res.redirect(302, BOARD_PATH))
  app.get("/fleet", view("fleet", "Fleet", options.data.fleet, fleetBody))
  app.get(
    "/policy",
    view("policy", "Policy", options.data.policy, (status) => policyBody(status)),
  )
  app.get("/health", view("health", "TLS health (last 24 h)", options.data.health, healthBody))
  app.use(queueRoutes({ ops: options.queueOps, audit: options.queueAudit, runtime: options.runtime }))
  app.get("/tlsrpt", view("tlsrpt", "TLS reports received", options.data.tlsReports, tlsReportsBody))
  app.use(traceRoutes({ trace: options.data.trace, runtime: options.runtime }))

  app.use((_req, res) => {
    res.status(404).type("text/plain").send("not found\n")
  })
  // Never echo internals (stack traces, Redis addresses) to the browser; the log has them.
  app.use(((error, _req, res, _next) => {
    run(Effect.logError("request failed", error)).catch(() => undefined)
    if (!res.headersSent) res.status(500).type("text/plain").send("internal error\n")
  }) as express.ErrorRequestHandler)
  return app
}
