/**
 * The stack's Redis: `REDIS_URL` when set (the stack then only uses it), else a private
 * `redis-server` on a loopback port with its data in `.local/redis` (AOF on, so queued mail and
 * the published bundle survive a restart of the stack).
 */
import { spawnSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { redisCommand } from "@mailconnect/test-redis"
import { Data, Effect } from "effect"
import type { StackPaths } from "./paths"
import { type RunningProcess, supervised } from "./processes"

export class RedisServerMissing extends Data.TaggedError("RedisServerMissing")<{ readonly hint: string }> {}

export interface StackRedis {
  readonly url: string
  /** The redis-server the stack started; undefined when REDIS_URL named someone else's Redis. */
  readonly process: RunningProcess | undefined
}

const installHint = () =>
  process.getuid?.() === 0
    ? "apt-get update && apt-get install -y redis-server"
    : "sudo apt-get install -y redis-server   (or: brew install redis; or set REDIS_URL)"

const pong = (port: number) => async () => {
  try {
    return (await redisCommand(port, "PING")) === "PONG"
  } catch {
    return false
  }
}

export const stackRedis = (paths: StackPaths, port: number, env = process.env) =>
  Effect.gen(function* () {
    if (env.REDIS_URL) return { url: env.REDIS_URL, process: undefined } satisfies StackRedis
    if (spawnSync("sh", ["-c", "command -v redis-server"], { stdio: "ignore" }).status !== 0)
      return yield* new RedisServerMissing({ hint: installHint() })
    mkdirSync(paths.redisDir, { recursive: true })
    const process = yield* supervised(paths, {
      name: "redis",
      command: "redis-server",
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        paths.redisDir,
        "--appendonly",
        "yes",
        // A 250 means the message is on disk (README, "Durability").
        "--appendfsync",
        "always",
        "--save",
        "",
        // BullMQ must never lose a key to eviction.
        "--maxmemory-policy",
        "noeviction",
      ],
      env: {},
      marker: paths.redisDir,
      ready: pong(port),
      startTimeout: "30 seconds",
      stopTimeout: "20 seconds",
    })
    return { url: `redis://127.0.0.1:${port}`, process } satisfies StackRedis
  })
