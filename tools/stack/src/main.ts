/**
 * `pnpm start` — the local stack in one command (run after tools/bootstrap.mjs has installed
 * what is missing).
 *
 * What it does: Redis (REDIS_URL, or a private redis-server with AOF under .local/redis), dev
 * signing keys and a dev PKI under .local/, the demo partners from the partner lab, a policy
 * bundle compiled from policies/ plus the demo partners, signed and published, a demo submission
 * user, one relay with both roles and the dashboard. Then it prints how to use them, writes
 * .local/stack.json and waits. SIGINT/SIGTERM close the scope: dashboard, relay (it drains),
 * partner servers, then the Redis it started — every resource is an acquireRelease, so the
 * order is the reverse of start-up by construction.
 *
 * It runs as `node --import tsx` (see the root package.json), not under the tsx CLI: that CLI
 * relays a signal to its child and SIGKILLs the child unless it acknowledges within 30 ms — on a
 * loaded machine that would cut this clean-up short and leave the relay and Redis running.
 *
 * What it trusts: only files under .local/ it wrote itself. What it may touch: .local/, loopback
 * ports, and REDIS_URL under REDIS_PREFIX (default mc) — point REDIS_URL at a development Redis
 * only: the stack publishes a bundle signed by its own dev key there.
 */
import { mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { dashboardPresent, dashboardSpec, dashboardUrl, relaySpec } from "./apps"
import { announceDeliveries, startDemoPartners } from "./demo-partners"
import { writeDemoPolicy } from "./demo-policy"
import { ensureDemoUser } from "./demo-user"
import { stackPaths } from "./paths"
import { stopLeftovers } from "./pids"
import { loadOrCreatePki } from "./pki"
import { choosePorts } from "./ports"
import { supervised } from "./processes"
import { compileAndSign, publish } from "./publish"
import { stackRedis } from "./redis"
import { banner, redactUrl, writeStackFiles } from "./report"
import { ensureSigningKeys, loadOrCreateSecrets } from "./secrets"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const log = (line: string) => console.log(`stack: ${line}`)

const program = Effect.gen(function* () {
  const paths = stackPaths(ROOT)
  mkdirSync(paths.local, { recursive: true, mode: 0o700 })
  // Runs last, after every other finalizer: the user sees when it is safe to start again.
  yield* Effect.addFinalizer(() => Console.log("mailconnect stopped"))
  yield* Effect.promise(() => stopLeftovers(paths, log))

  const secrets = loadOrCreateSecrets(paths)
  log(ensureSigningKeys(paths).created ? "created dev signing keys in .local/keys" : "reusing .local/keys")
  const { pki, created } = yield* Effect.promise(() => loadOrCreatePki(paths))
  log(created ? "created the dev PKI in .local/pki" : "reusing the dev PKI in .local/pki")
  const ports = yield* Effect.promise(() => choosePorts(paths))
  const prefix = process.env.REDIS_PREFIX ?? "mc"

  const redis = yield* stackRedis(paths, ports.redis)
  log(
    redis.process
      ? `redis-server on ${redis.url} (data in .local/redis)`
      : `using REDIS_URL ${redactUrl(redis.url)}`,
  )

  const partners = yield* startDemoPartners(pki)
  const now = new Date()
  writeDemoPolicy({ source: join(ROOT, "policies"), target: paths.policies, partners, caPem: pki.caPem, now })
  const bundle = yield* compileAndSign(paths, now, log)
  const published = yield* publish(paths, redis.url, prefix, bundle.bytes)
  log(`published policy serial ${published.serial} (${bundle.partners} partners, ${published.digest})`)

  yield* Effect.promise(() => ensureDemoUser(paths, secrets.demoPassword))
  const ctx = { paths, ports, pki, secrets, partners, redisUrl: redis.url, prefix }
  log("starting the relay (ingress + delivery)…")
  const children = [yield* supervised(paths, relaySpec(ctx))]
  let url: string | undefined
  if (dashboardPresent(paths)) {
    log("starting the dashboard…")
    children.push(yield* supervised(paths, dashboardSpec(ctx)))
    url = dashboardUrl(ports)
  }
  if (redis.process) children.push(redis.process)

  const report = {
    paths,
    ports,
    secrets,
    partners,
    redisUrl: redis.url,
    prefix,
    dashboardUrl: url,
    serial: published.serial,
  }
  writeStackFiles(report)
  yield* Console.log(banner(report))
  yield* Console.log(`mailconnect ready: policy serial ${published.serial}, details in .local/stack.json`)
  yield* Effect.addFinalizer(() => Console.log("stack: stopping…"))
  // Runs until Ctrl-C — or until a child dies on its own, which stops the rest and says why.
  // (raceAll settles on the first *success*, so each exit is flipped into one, then re-raised.)
  const firstExit = Effect.raceAll(children.map((c) => Effect.flip(c.unexpectedExit)))
  return yield* Effect.raceFirst(announceDeliveries(partners, log), Effect.flatMap(firstExit, Effect.fail))
})

const explained = program.pipe(
  Effect.catchTags({
    RedisServerMissing: (e) =>
      Console.error(`stack: redis-server is not installed. Install it: ${e.hint}`).pipe(
        Effect.zipRight(Effect.sync(() => (process.exitCode = 1))),
      ),
    PolicyInvalid: (e) =>
      Console.error(
        `stack: the policy does not compile (${e.summary}); run: pnpm mailconnect policy check`,
      ).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1)))),
    ProcessFailed: (e) =>
      Console.error(`stack: ${e.name} failed: ${e.reason}\n(full log: ${e.logFile})`).pipe(
        Effect.zipRight(Effect.sync(() => (process.exitCode = 1))),
      ),
  }),
  Effect.scoped,
  Effect.provide(NodeContext.layer),
)

NodeRuntime.runMain(explained, { disablePrettyLogger: true })
