/**
 * The CLI on a fleet whose queue is sharded (`REDIS_SHARDS=3` recorded in Redis): `queue list`
 * and `queue show` see mail in every shard, taking the shard count from Redis; a CLI configured
 * for another count refuses with the reason. No worker runs.
 */
import { execFile } from "node:child_process"
import { join } from "node:path"
import { DeliveryQueue, Enqueue, QueueLayout } from "@mailconnect/delivery-queue"
import { PolicyView } from "@mailconnect/policy"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ROOT } from "./policy-cli"

const LAUNCH = join(ROOT, "tools", "launch", "run.mjs")
const PREFIX = "clisharded"
const SHARDS = 3

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

let redis: RedisServer
let env: Record<string, string>

const mailconnect = (extra: Record<string, string>, ...args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [LAUNCH, "cli", ...args],
      { cwd: ROOT, env: { ...process.env, ...env, ...extra }, timeout: 60_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    )
  })

/** The queue as a relay with `REDIS_SHARDS=3` opens it (and so records the layout). */
const queueLayer = () =>
  DeliveryQueue.layer.pipe(
    Layer.provide(
      Layer.merge(
        RedisConnectionFactory.layerFrom({
          ...Either.getOrThrow(parseRedisUrl(redis.url, PREFIX)),
          shards: SHARDS,
        }),
        PolicyView.none,
      ),
    ),
  )

let ids: ReadonlyArray<string>
let shardOf: (id: string) => number

beforeAll(async () => {
  redis = await startRedis()
  env = { REDIS_URL: redis.url, REDIS_PREFIX: PREFIX, SUDO_USER: "carol" }
  // Mail queued (waiting: no worker runs) until there is some in every shard.
  ;[ids, shardOf] = await Effect.runPromise(
    Effect.gen(function* () {
      const enqueue = yield* Enqueue
      const layout = yield* QueueLayout
      const queued: Array<string> = []
      while (layout.all.some((s) => !queued.some((id) => layout.shardOf(id) === s)) || queued.length < 6) {
        const { messageId } = yield* enqueue.enqueue({
          sender: "alice@customer.example",
          recipients: [`u${queued.length}@bank.example`],
          body: Buffer.from("Subject: x\r\n\r\nhi\r\n"),
        })
        queued.push(messageId)
      }
      return [queued, layout.shardOf] as const
    }).pipe(Effect.provide(queueLayer()), Effect.scoped),
  )
}, 120_000)
afterAll(() => redis.stop())

describe("mailconnect queue on a sharded fleet", () => {
  it("lists and shows mail of every shard, the shard count taken from Redis", async () => {
    const listed = await mailconnect({}, "queue", "list", "--json")
    expect(listed.code, listed.stderr).toBe(0)
    const entries = JSON.parse(listed.stdout) as ReadonlyArray<{ messageId: string }>
    expect(new Set(entries.map((e) => e.messageId))).toEqual(new Set(ids))
    for (const shard of [0, 1, 2]) {
      const id = ids.find((i) => shardOf(i) === shard)!
      const shown = await mailconnect({}, "queue", "show", id, "--json")
      expect(shown.code, shown.stderr).toBe(0)
      expect(JSON.parse(shown.stdout)).toMatchObject({ messageId: id, bodyStored: true })
    }
  })

  it("refuses to run with another REDIS_SHARDS than the fleet's layout", async () => {
    const refused = await mailconnect({ REDIS_SHARDS: "2" }, "queue", "list")
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain("REDIS_SHARDS=2")
    expect(refused.stderr).toContain(`is ${SHARDS} shard(s)`)
  })
})
