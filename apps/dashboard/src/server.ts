/**
 * `DashboardServer`: the HTTP listener as a scoped resource. Acquire binds DASHBOARD_HOST:PORT
 * (port 0 picks a free one, for tests); release stops accepting, closes idle keep-alive
 * connections at once and any still busy after a short grace, so SIGTERM ends the process.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { BullBoardQueue, QueueAudit, QueueOps } from "@mailconnect/delivery-queue"
import { Context, Effect, Layer } from "effect"
import { makeApp } from "./app"
import { DashboardConfig } from "./config"
import { DashboardData } from "./dashboard-data"
import { ServerListenFailed } from "./errors"

export interface DashboardServerShape {
  readonly url: string
  readonly host: string
  readonly port: number
}

const CLOSE_GRACE_MS = 5_000

const listen = (server: Server, host: string, port: number) =>
  Effect.async<number, ServerListenFailed>((resume) => {
    const onError = (error: Error) =>
      resume(Effect.fail(new ServerListenFailed({ host, port, detail: error.message })))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resume(Effect.succeed((server.address() as AddressInfo).port))
    })
  })

const close = (server: Server) =>
  Effect.async<void>((resume) => {
    const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS)
    force.unref()
    server.close(() => {
      clearTimeout(force)
      resume(Effect.void)
    })
    server.closeIdleConnections()
  })

export class DashboardServer extends Context.Tag("@mailconnect/dashboard/DashboardServer")<
  DashboardServer,
  DashboardServerShape
>() {
  static layer = Layer.scoped(
    this,
    Effect.gen(function* () {
      const config = yield* DashboardConfig
      const data = yield* DashboardData
      const delivery = yield* BullBoardQueue
      const runtime = yield* Effect.runtime<never>()
      const queueOps = yield* QueueOps
      const queueAudit = yield* QueueAudit
      const app = makeApp({
        accounts: config.accounts,
        queues: delivery.queues,
        data,
        runtime,
        queueOps,
        queueAudit,
      })
      const server = createServer(app)
      const port = yield* Effect.acquireRelease(listen(server, config.host, config.port), () =>
        close(server).pipe(Effect.zipRight(Effect.logInfo("dashboard stopped"))),
      )
      const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host
      const url = `http://${hostForUrl}:${port}`
      yield* Effect.logInfo("dashboard listening").pipe(Effect.annotateLogs({ url }))
      return { url, host: config.host, port }
    }),
  )
}
