/**
 * mailconnect dashboard.
 *
 * What it does: serves bull-board over the `delivery` queue (jobs named `<domain> <partner>
 * <message id>`, attempts, TLS evidence and failure codes in job data and logs) and three pages
 * of our own — fleet (relay heartbeats, convergence on the published serial), policy (the active
 * bundle, partners' modes, review and certificate dates) and TLS health (24 h per partner).
 *
 * What it trusts: the two accounts from DASHBOARD_USER/DASHBOARD_PASSWORD (read-only) and
 * DASHBOARD_ADMIN_USER/DASHBOARD_ADMIN_PASSWORD (may retry, promote and remove jobs), checked
 * with HTTP Basic on every route in constant time; policy bundles only as far as they verify
 * against MAILCONNECT_TRUSTED_KEYS. Everything read from Redis (relay ids, replies, certificate
 * subjects) is escaped before it reaches HTML. Basic credentials travel in clear text: bind to
 * loopback (the default, DASHBOARD_HOST) or put a TLS-terminating proxy in front.
 *
 * What it may touch: reads the `fleet:`, `policy:` and `stats:` keys and the `delivery` queue
 * under `{REDIS_PREFIX}`; writes only through actions of an admin: bull-board's (job state in the
 * `delivery` queue) and the queue page's (hold, release, retry, delete, bounce — job delay, data
 * and log, `queue:held`, and an entry in the `audit` stream). Its HTTP port. Nothing else: no files written, no outbound connections.
 *
 * This file only assembles layers; SIGTERM runs the finalizers (HTTP server, queue, Redis).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { RedisClient } from "@mailconnect/redis-client"
import { Layer, Logger } from "effect"
import { DashboardConfig } from "./config"
import { dashboardLayer } from "./layers"

const Dashboard = dashboardLayer(RedisClient.layerFromEnv).pipe(
  Layer.provide(Layer.mergeAll(DashboardConfig.layer, NodeContext.layer)),
  Layer.provide(Logger.logFmt),
)

NodeRuntime.runMain(Layer.launch(Dashboard), { disablePrettyLogger: true })
