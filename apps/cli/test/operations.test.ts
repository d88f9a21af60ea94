import { spawnSync } from "node:child_process"
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { BullBoardQueue, DeliveryQueue, Enqueue } from "@mailconnect/delivery-queue"
import { PolicyView } from "@mailconnect/policy"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ROOT, tempDir } from "./policy-cli"

/** Runs `mailconnect` with standard input (spawnSync: these commands are short). */
const run = (args: ReadonlyArray<string>, options: { input?: string; env?: Record<string, string> } = {}) => {
  const result = spawnSync(process.execPath, [join(ROOT, "tools", "launch", "run.mjs"), "cli", ...args], {
    cwd: ROOT,
    input: options.input ?? "",
    env: { ...process.env, ...options.env },
    encoding: "utf8",
  })
  return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr }
}

describe("mailconnect users", () => {
  it("adds, lists and removes users; the password comes from stdin and is stored hashed, mode 0600", () => {
    const file = join(tempDir("users"), "users")
    const added = run(
      ["users", "add", "alice", "--file", file, "--domains", "customer.example,other.example"],
      { input: "a long enough password\n" },
    )
    expect(added).toMatchObject({ code: 0 })
    const text = readFileSync(file, "utf8")
    expect(text).toMatch(/^alice:scrypt\$16384\$8\$1\$[^:]+:customer\.example,other\.example$/m)
    expect(text).not.toContain("a long enough password")
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(run(["users", "list", "--file", file]).stdout).toBe("alice\tcustomer.example,other.example\n")
    expect(
      run(["users", "add", "bob", "--file", file, "--domains", "x.example"], { input: "short\n" }).code,
    ).toBe(1)
    expect(run(["users", "remove", "alice", "--file", file]).code).toBe(0)
    expect(run(["users", "list", "--file", file]).stdout).toBe("")
    expect(run(["users", "remove", "alice", "--file", file]).code).toBe(1)
  })
})

describe("mailconnect timeline", () => {
  it("prints the schedule with the warning and expiry marks", () => {
    const result = run(["timeline", "--queued-at", "2026-11-28T09:00:00Z"])
    expect(result.code).toBe(0)
    const lines = result.stdout.split("\n")
    expect(lines[0]).toBe(
      "retry policy (defaults): schedule 5m,10m,20m,40m every 1h warn after 4h expire after 10d",
    )
    expect(lines).toContain("   2  2026-11-28T09:05:00.000Z  +5m")
    expect(lines).toContain(
      "   8  2026-11-28T13:00:00.000Z  +4h  <- delay warning to the sender if still undelivered",
    )
    expect(lines.filter((l) => l.includes("<- expiry"))).toEqual([
      " 245  2026-12-08T09:00:00.000Z  +10d  <- expiry: NDR if still undelivered",
    ])
  })

  it("uses a partner's override and speaks JSON", () => {
    const result = run(["timeline", "--partner", "bank", "--queued-at", "2026-11-28T09:00:00Z", "--json"])
    expect(result.code).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json.partner).toBe("bank")
    expect(json.attempts[0]).toBe("2026-11-28T09:00:00.000Z")
    expect(json.expireAt).toBe(json.attempts.at(-1))
  })

  it("refuses an unknown partner", () => {
    expect(run(["timeline", "--partner", "nobody"]).code).toBe(1)
  })
})

describe("mailconnect queue", () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(() => redis.stop())

  it("shows a queued message and flushes by domain", async () => {
    const config = Either.getOrThrow(parseRedisUrl(redis.url, "cli"))
    const layer = DeliveryQueue.layer.pipe(
      Layer.provide(Layer.merge(RedisConnectionFactory.layerFrom(config), PolicyView.none)),
    )
    const { messageId } = await Effect.runPromise(
      Effect.scoped(
        Effect.provide(
          Effect.gen(function* () {
            const queue = yield* Enqueue
            const bull = yield* BullBoardQueue
            const enqueued = yield* queue.enqueue({
              sender: "alice@customer.example",
              recipients: ["bob@bank.example"],
              body: Buffer.from("Subject: x\r\n\r\nhi\r\n"),
              requireTls: true,
            })
            // Park the job as a worker would after a deferral, one hour out (no worker runs here).
            const job = (yield* Effect.promise(() => bull.queue.getJob(enqueued.jobIds[0]!)))!
            yield* Effect.promise(() => job.remove())
            yield* Effect.promise(() =>
              bull.queue.add(job.name, job.data, { jobId: job.id!, delay: 3_600_000 }),
            )
            return enqueued
          }),
          layer,
        ),
      ),
    )
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: "cli" }
    const shown = run(["queue", "show", messageId, "--json"], { env })
    expect(shown.code).toBe(0)
    const view = JSON.parse(shown.stdout)
    expect(view).toMatchObject({ messageId, bodyStored: true })
    expect(view.jobs[0]).toMatchObject({
      state: "delayed",
      data: { domain: "bank.example", pending: ["bob@bank.example"], requireTls: true },
    })
    const text = run(["queue", "show", messageId], { env }).stdout
    expect(text).toContain(`message ${messageId} (body in spool)`)
    expect(text).toMatch(/ {2}bank\.example: delayed, 0 attempt\(s\), next .*, requiretls\n/)
    expect(run(["queue", "show", "no-such-id"], { env }).code).toBe(1)
    const flushed = run(["queue", "flush", "--domain", "bank.example"], { env })
    expect(flushed).toMatchObject({ code: 0, stdout: "promoted 1 waiting job(s)\n" })
    expect(JSON.parse(run(["queue", "show", messageId, "--json"], { env }).stdout).jobs[0].state).toBe(
      "waiting",
    )
  })
})
