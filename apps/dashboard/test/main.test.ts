/**
 * `pnpm dashboard` as a process: it refuses to start without credentials, and with them it
 * listens, answers 401 to anonymous requests, and exits 0 on SIGTERM after closing the server.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, type RedisServer, startRedis } from "@mailconnect/test-redis"
import { makeSigner, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN, basic, VIEWER } from "./support/dashboard"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

let redis: RedisServer
let dir: string
let keyFile: string

beforeAll(async () => {
  redis = await startRedis()
  dir = mkdtempSync(join(tmpdir(), "mc-dashboard-main-"))
  keyFile = join(dir, "signing.pub")
  writeFileSync(keyFile, makeSigner().publicPem)
}, 30_000)

afterAll(async () => {
  await redis?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const start = (env: Record<string, string>) => {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DASHBOARD_")))
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "apps/dashboard/src/main.ts"], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  let output = ""
  child.stdout?.on("data", (c) => {
    output += c.toString()
  })
  child.stderr?.on("data", (c) => {
    output += c.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, exited, output: () => output }
}

describe("the dashboard process", { timeout: 60_000 }, () => {
  it("refuses to start without credentials", async () => {
    const run = start({ REDIS_URL: redis.url, MAILCONNECT_TRUSTED_KEYS: keyFile })
    expect(await run.exited).toBe(1)
    for (const name of [
      "DASHBOARD_USER",
      "DASHBOARD_PASSWORD",
      "DASHBOARD_ADMIN_USER",
      "DASHBOARD_ADMIN_PASSWORD",
    ])
      expect(run.output()).toContain(name)
  })

  it("serves behind authentication and exits 0 on SIGTERM", async () => {
    const port = await freePort()
    const run = start({
      REDIS_URL: redis.url,
      REDIS_PREFIX: "dashmain",
      MAILCONNECT_TRUSTED_KEYS: keyFile,
      DASHBOARD_PORT: String(port),
      DASHBOARD_USER: VIEWER.user,
      DASHBOARD_PASSWORD: VIEWER.password,
      DASHBOARD_ADMIN_USER: ADMIN.user,
      DASHBOARD_ADMIN_PASSWORD: ADMIN.password,
    })
    const url = `http://127.0.0.1:${port}`
    await waitFor(
      "dashboard listening",
      () => {
        if (run.child.exitCode !== null) throw new Error(`dashboard exited:\n${run.output()}`)
        return run.output().includes("dashboard listening")
      },
      { timeoutMs: 30_000, intervalMs: 25, output: run.output },
    )
    expect((await fetch(`${url}/fleet`)).status).toBe(401)
    const fleet = await fetch(`${url}/fleet`, { headers: { authorization: basic(VIEWER) } })
    expect(fleet.status).toBe(200)
    expect(await fleet.text()).toContain("No live relays.")
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
    expect(run.output()).toContain("dashboard stopped")
  })
})
