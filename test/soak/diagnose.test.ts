/**
 * The soak's post-mortem reads real BullMQ keys: a job waiting and one delayed are found in their
 * states with their logs, the message's spool entry without its body, and an id Redis does not
 * know is said to be unknown — so a failed soak names where each unsettled message stopped.
 */
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import { Queue } from "bullmq"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { describeUnsettled } from "./diagnose"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

describe("describeUnsettled", () => {
  it("names each job's BullMQ state, its log and the spool entry, and says when nothing is there", async () => {
    const queue = new Queue("delivery", {
      connection: { host: "127.0.0.1", port: redis.port },
      prefix: "{soakdx}",
    })
    try {
      await queue.add("a", { big: "x".repeat(500) }, { jobId: "mq1-aaaa/a.example" })
      const delayed = await queue.add("b", {}, { jobId: "mq1-aaaa/b.example", delay: 60_000 })
      await delayed.log("attempt 1 | deferred 451")
      await redisCommand(
        redis.port,
        "HSET",
        "{soakdx}:spool:mq1-aaaa",
        "body",
        "y".repeat(4000),
        "sender",
        "s@x",
      )
      const lines = await describeUnsettled(redis.port, ["mq1-aaaa", "mq9-none"])
      const line = (key: string) => lines.find((l) => l.startsWith(`${key}:`)) ?? ""
      expect(line("{soakdx}:delivery:mq1-aaaa/a.example")).toMatch(/states=wait$/)
      expect(line("{soakdx}:delivery:mq1-aaaa/a.example")).toContain('"data":"(')
      expect(line("{soakdx}:delivery:mq1-aaaa/b.example")).toMatch(/states=delayed$/)
      expect(line("{soakdx}:delivery:mq1-aaaa/b.example:logs")).toContain("attempt 1 | deferred 451")
      expect(line("{soakdx}:spool:mq1-aaaa")).toContain('"body":"(4000 bytes)"')
      expect(line("{soakdx}:spool:mq1-aaaa")).not.toContain("yyyy")
      expect(lines).toContain("mq9-none: no key in Redis")
    } finally {
      await queue.close()
    }
  })
})
