/**
 * Starts the dashboard's real layer graph in-process for tests: a real Redis (own key prefix),
 * a trusted-key file on disk, the HTTP server on a free loopback port. Only the configuration
 * source differs from `main.ts`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { redisLayer, type TestSigner } from "@mailconnect/test-support"
import { Layer, ManagedRuntime, Redacted } from "effect"
import { DashboardConfig, DashboardServer, dashboardLayer } from "../../src"

export const VIEWER = { user: "operator", password: "viewer-secret-1" }
export const ADMIN = { user: "mailadmin", password: "admin-secret-2" }

export const basic = (credentials: { user: string; password: string }) =>
  `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}`

export interface RunningDashboard {
  readonly url: string
  readonly stop: () => Promise<void>
}

export const startDashboard = async (options: {
  readonly redisUrl: string
  readonly prefix: string
  readonly signer: TestSigner
}): Promise<RunningDashboard> => {
  const dir = mkdtempSync(join(tmpdir(), "mc-dashboard-"))
  const keyFile = join(dir, "signing.pub")
  writeFileSync(keyFile, options.signer.publicPem)
  const config = DashboardConfig.layerFrom({
    host: "127.0.0.1",
    port: 0,
    accounts: [
      { user: VIEWER.user, password: Redacted.make(VIEWER.password), role: "viewer" },
      { user: ADMIN.user, password: Redacted.make(ADMIN.password), role: "admin" },
    ],
    trustedKeyFiles: [keyFile],
  })
  const runtime = ManagedRuntime.make(
    dashboardLayer(redisLayer(options.redisUrl, options.prefix)).pipe(
      Layer.provide(Layer.mergeAll(config, NodeContext.layer)),
    ),
  )
  const server = await runtime.runPromise(DashboardServer)
  return {
    url: server.url,
    stop: async () => {
      await runtime.dispose()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
