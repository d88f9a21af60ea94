/**
 * A local distribution lab for end-to-end tests and the bench: a real redis-server, signing keys
 * on disk, relay processes (`tsx apps/relay/src/main.ts`) and the `mailconnect` CLI, all on
 * loopback. Each lab uses its own key prefix and temporary directory.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { FleetRegistry, type RelayHeartbeat } from "@mailconnect/fleet"
import type { RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { parsePrometheusText } from "@mailconnect/telemetry"
import { freePort, type RedisServer, startRedis, tiedToParent } from "@mailconnect/test-redis"
import { Effect, Layer, type Scope } from "effect"
import { makeSigner, type TestSigner } from "./bundles"
import { waitFor } from "./polling"
import { deletePrefix, redisLayer } from "./redis"

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
/**
 * Relays and the CLI start the way `pnpm relay` / `pnpm mailconnect` start them: through the
 * launcher (a cached single-file bundle, one process). Not the tsx CLI: it relays SIGTERM to its
 * child and SIGKILLs it when the child does not acknowledge within 30 ms, which a loaded machine
 * misses — a drain test must see the relay's own shutdown.
 */
const LAUNCH = join(ROOT, "tools", "launch", "run.mjs")

export interface Lab {
  readonly redis: RedisServer
  readonly prefix: string
  readonly dir: string
  readonly signer: TestSigner
  readonly trustedKeyFile: string
  /** Writes bytes to a file in the lab directory and returns its path. */
  readonly file: (name: string, bytes: string) => string
  readonly withRedis: <A, E>(
    effect: Effect.Effect<A, E, RedisClient | RedisConnectionFactory | FleetRegistry | Scope.Scope>,
  ) => Promise<A>
  readonly heartbeats: () => Promise<ReadonlyArray<RelayHeartbeat>>
  readonly stop: () => Promise<void>
}

export const startLab = async (): Promise<Lab> => {
  const redis = await startRedis()
  const prefix = `e2e${randomBytes(3).toString("hex")}`
  const dir = mkdtempSync(join(tmpdir(), "mc-e2e-"))
  const signer = makeSigner()
  const trustedKeyFile = join(dir, "signing.pub")
  writeFileSync(trustedKeyFile, signer.publicPem)
  const layer = () => FleetRegistry.layer.pipe(Layer.provideMerge(redisLayer(redis.url, prefix)))
  const withRedis: Lab["withRedis"] = (effect) =>
    Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(layer())))
  return {
    redis,
    prefix,
    dir,
    signer,
    trustedKeyFile,
    file: (name, bytes) => {
      const path = join(dir, name)
      writeFileSync(path, bytes)
      return path
    },
    withRedis,
    heartbeats: () =>
      withRedis(
        Effect.map(FleetRegistry, (f) => f.live).pipe(
          Effect.flatten,
          Effect.map((l) => l.relays),
        ),
      ),
    stop: async () => {
      await withRedis(deletePrefix(prefix)).catch(() => undefined)
      await redis.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface RelayProcess {
  readonly id: string
  readonly port: number
  readonly stateDir: string
  readonly output: () => string
  readonly metrics: () => Promise<ReadonlyMap<string, number>>
  readonly activeSerial: () => Promise<number | undefined>
  readonly ready: () => Promise<{ status: number; body: { ready: boolean; draining: boolean } } | undefined>
  /** Sends the signal and resolves with the exit code. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
  readonly exited: Promise<number | null>
}

export interface RelayOptions {
  readonly redisUrl?: string
  readonly stateDir?: string
  readonly env?: Readonly<Record<string, string>>
}

const get = async (url: string) => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
    return { status: response.status, text: await response.text() }
  } catch {
    return undefined
  }
}

export const startRelay = async (lab: Lab, id: string, options: RelayOptions = {}): Promise<RelayProcess> => {
  // A test that watches the relay from its first moment picks the HTTP port itself.
  const chosen = options.env?.RELAY_HTTP_PORT
  const port = chosen === undefined ? await freePort() : Number(chosen)
  const stateDir = options.stateDir ?? join(lab.dir, "state", id)
  mkdirSync(stateDir, { recursive: true })
  // BENCH_CPU_PROFILE_DIR=<dir>: each relay writes a V8 CPU profile there when it exits (pnpm bench e2e).
  const profile = process.env.BENCH_CPU_PROFILE_DIR
  // BENCH_HEAP_SNAPSHOT_DIR=<dir>: each relay writes a heap snapshot there on SIGUSR2 (pnpm bench --heap).
  const heap = process.env.BENCH_HEAP_SNAPSHOT_DIR
  // BENCH_ALLOC_PROFILE_DIR=<dir>: each relay samples its allocations and writes them there on exit (pnpm bench --alloc).
  const alloc = process.env.BENCH_ALLOC_PROFILE_DIR
  const child: ChildProcess = spawn(
    ...tiedToParent(process.execPath, [
      ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
      ...(heap ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${heap}`] : []),
      ...(alloc ? ["--import", join(ROOT, "tools", "bench", "src", "alloc-preload.mjs")] : []),
      // BENCH_RELAY_NODE_ARGS="--flag …": node/V8 flags for every relay, to compare settings side by side.
      ...(process.env.BENCH_RELAY_NODE_ARGS ?? "").split(" ").filter((a) => a !== ""),
      LAUNCH,
      "relay",
    ]),
    {
      cwd: ROOT,
      env: {
        ...process.env,
        // As apps/relay/relay.env.sample recommends (a bench or test may override it).
        MALLOC_ARENA_MAX: "2",
        REDIS_URL: options.redisUrl ?? lab.redis.url,
        REDIS_PREFIX: lab.prefix,
        RELAY_ID: id,
        RELAY_HTTP_PORT: String(port),
        RELAY_STATE_DIR: stateDir,
        MAILCONNECT_TRUSTED_KEYS: lab.trustedKeyFile,
        RELAY_POLICY_POLL_INTERVAL: "1s",
        RELAY_HEARTBEAT_INTERVAL: "1s",
        RELAY_HEARTBEAT_TTL: "5s",
        // Lab partner domains are in no DNS: a route check would ask the system's resolver.
        RELAY_ROUTE_CHECK: "off",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  )
  let output = ""
  child.stdout?.on("data", (c) => {
    output = (output + c.toString()).slice(-20_000)
  })
  child.stderr?.on("data", (c) => {
    output = (output + c.toString()).slice(-20_000)
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const base = `http://127.0.0.1:${port}`
  const metrics = async () => {
    const response = await get(`${base}/metrics`)
    return response ? parsePrometheusText(response.text) : new Map<string, number>()
  }
  const relay: RelayProcess = {
    id,
    port,
    stateDir,
    output: () => output,
    metrics,
    activeSerial: async () => (await metrics()).get("mc_policy_active_serial"),
    ready: async () => {
      const response = await get(`${base}/readyz`)
      return response && { status: response.status, body: JSON.parse(response.text) }
    },
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
    exited,
  }
  await waitFor(
    `relay ${id} to answer /healthz`,
    async () => {
      if (child.exitCode !== null) throw new Error(`relay ${id} exited with ${child.exitCode}:\n${output}`)
      return (await get(`${base}/healthz`)) !== undefined
    },
    { timeoutMs: 30_000, intervalMs: 50, output: () => output },
  )
  return relay
}

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `mailconnect …` as a process against the lab's Redis and trusted key. */
export const cli = (
  lab: Lab,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
): Promise<CliResult> =>
  new Promise((resolve) => {
    const child = spawn(...tiedToParent(process.execPath, [LAUNCH, "cli", ...args]), {
      cwd: ROOT,
      env: {
        ...process.env,
        REDIS_URL: lab.redis.url,
        REDIS_PREFIX: lab.prefix,
        MAILCONNECT_TRUSTED_KEYS: lab.trustedKeyFile,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => {
      stdout += c.toString()
    })
    child.stderr.on("data", (c) => {
      stderr += c.toString()
    })
    child.once("exit", (code) => resolve({ code, stdout, stderr }))
  })
