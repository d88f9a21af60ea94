/**
 * Delivery queue throughput: messages enqueued straight into the spool and BullMQ (no SMTP
 * ingress) and delivered by 1, then 2, relay processes with the `delivery` role to the partner
 * lab's `good` server under enforced TLS; plus Redis memory per queued message (4 KB body,
 * one recipient) while nothing is being delivered.
 */
import { DeliveryQueue, Enqueue } from "@mailconnect/delivery-queue"
import { PolicyView } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { redisCommand } from "@mailconnect/test-redis"
import { labPartner, policyOf, type SmtpRelay, startStack, waitFor } from "@mailconnect/test-support"
import { Effect, Either, Layer, ManagedRuntime } from "effect"
import { type BenchSuite, report } from "../suite"

const MESSAGES = Number(process.env.BENCH_QUEUE_MESSAGES ?? 2_000)
const MEMORY_SAMPLE = 5_000
const BODY = Buffer.from(
  `From: a@customer.example\r\nSubject: queue bench\r\n\r\n${`${"x".repeat(78)}\r\n`.repeat(51)}`,
)

const usedMemory = async (port: number): Promise<number> => {
  const info = String(await redisCommand(port, "INFO", "memory"))
  return Number(/used_memory:(\d+)/.exec(info)?.[1])
}

const suite: BenchSuite = {
  name: "delivery queue (enqueue → delivered, enforced TLS)",
  run: async () => {
    const stack = await startStack(["good"])
    // Stopped also when a relay fails to start: the stack's Redis and lab must not outlive the run.
    try {
      const good = stack.partners.scenario("good")
      const policy = policyOf([labPartner(stack.partners, "bank", "good")], {
        host: good.host,
        port: good.port,
      })
      await stack.publish(policy, 1)
      const runtime = ManagedRuntime.make(
        DeliveryQueue.layer.pipe(
          Layer.provide(
            Layer.merge(
              RedisConnectionFactory.layerFrom(
                Either.getOrThrow(parseRedisUrl(stack.lab.redis.url, stack.lab.prefix)),
              ),
              PolicyView.fixed(policy, buildIndex(policy)),
            ),
          ),
        ),
      )
      const enqueue = (count: number, tag: string) =>
        runtime.runPromise(
          Effect.flatMap(Enqueue, (queue) =>
            Effect.forEach(
              Array.from({ length: count }, (_, i) => i),
              (i) =>
                queue.enqueue({
                  sender: "a@customer.example",
                  recipients: [`${tag}${i}@bank.example`],
                  body: BODY,
                }),
              { concurrency: 32, discard: true },
            ),
          ),
        )
      try {
        report("messages per run (4 KB, one recipient)", MESSAGES)
        for (const processes of [1, 2]) {
          const before = good.recorder.messages().length
          const relays: Array<SmtpRelay> = []
          for (let p = 0; p < processes; p++)
            relays.push(
              await stack.startRelay(`worker-${processes}-${p}`, {
                RELAY_ROLES: "delivery",
                RELAY_DELIVERY_CONCURRENCY: "64",
                RELAY_DESTINATION_CONCURRENCY: "16",
              }),
            )
          for (const r of relays)
            await waitFor("delivery relay ready", async () => (await r.ready())?.status === 200)
          const started = performance.now()
          await enqueue(MESSAGES, `p${processes}-`)
          const enqueued = performance.now() - started
          await waitFor(
            "all delivered",
            () => (good.recorder.messages().length - before >= MESSAGES ? true : undefined),
            600_000,
          )
          const total = performance.now() - started
          report(`${processes} delivery process(es): enqueue rate`, (MESSAGES / enqueued) * 1000, "msg/s")
          report(`${processes} delivery process(es): enqueue → delivered`, (MESSAGES / total) * 1000, "msg/s")
          await Promise.all(relays.map((r) => r.stop("SIGTERM")))
        }
        const base = await usedMemory(stack.lab.redis.port)
        await enqueue(MEMORY_SAMPLE, "mem-")
        const perMessage = ((await usedMemory(stack.lab.redis.port)) - base) / MEMORY_SAMPLE
        report("Redis memory per queued message (4 KB body)", perMessage, "bytes")
        report("  of which overhead beyond the body", perMessage - BODY.length, "bytes")
      } finally {
        await runtime.dispose()
      }
    } finally {
      await stack.stop()
    }
  },
}

export default suite
