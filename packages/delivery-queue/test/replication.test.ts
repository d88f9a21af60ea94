/**
 * `waitReplicas`: a message counts as accepted only once a replica holds it (Redis WAIT), so a
 * Sentinel failover right after the 250 cannot lose it. Real master and replica processes.
 */
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DeliveryQueue, Enqueue } from "../src"
import { eventually, partner, policySet, policyViewLayer } from "./harness"

let master: RedisServer
let replica: RedisServer | undefined
beforeAll(async () => {
  master = await startRedis()
})
afterAll(async () => {
  await replica?.stop()
  await master.stop()
})

const enqueueOnce = (prefix: string, waitTimeoutMs = 300) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(Enqueue, (queue) =>
        Effect.either(
          queue.enqueue({
            sender: "a@customer.example",
            recipients: ["b@bank.example"],
            body: Buffer.from("Subject: x\r\n\r\ny\r\n"),
          }),
        ),
      ).pipe(
        Effect.provide(
          DeliveryQueue.layerWith({ waitReplicas: 1, waitTimeoutMs }).pipe(
            Layer.provide(
              Layer.merge(
                RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(master.url, prefix))),
                policyViewLayer(policySet([partner("bank", ["bank.example"])])),
              ),
            ),
          ),
        ),
      ),
    ),
  )

describe("waiting for a replica before acknowledging", () => {
  it("refuses (451 upstream) while no replica acknowledges", async () => {
    const result = await enqueueOnce("norepl")
    expect(Either.isLeft(result) && result.left).toMatchObject({
      _tag: "QueueUnavailable",
      operation: "replication",
      detail: "0 of 1 replica(s) acknowledged within 300 ms",
    })
    // Still stored on the master and queued: a refused acknowledgement never drops the message.
    expect(
      ((await redisCommand(master.port, "KEYS", "{norepl}:spool:*")) as ReadonlyArray<string>).length,
    ).toBeGreaterThan(0)
    expect(await redisCommand(master.port, "LLEN", "{norepl}:delivery:wait")).toBe(1)
  })

  it("accepts once a replica holds the message", async () => {
    replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(master.port)] })
    // The replica reports its link up before the master counts it: the master puts a replica
    // online (and WAIT counts it) only after its first REPLCONF ACK. Wait for both sides.
    await Effect.runPromise(
      eventually(
        Effect.promise(() =>
          Promise.all([
            redisCommand(replica!.port, "INFO", "replication"),
            redisCommand(master.port, "INFO", "replication"),
          ]),
        ).pipe(
          Effect.map(([ofReplica, ofMaster]) =>
            String(ofReplica).includes("master_link_status:up") && String(ofMaster).includes("state=online")
              ? true
              : undefined,
          ),
        ),
      ),
    )
    // A generous timeout: on a loaded machine the replica's ACK can take longer than 300 ms.
    const result = await enqueueOnce("repl", 5_000)
    expect(Either.isRight(result)).toBe(true)
    const keys = (await redisCommand(replica.port, "KEYS", "{repl}:spool:*")) as ReadonlyArray<string>
    expect(keys.length).toBeGreaterThan(0)
  })
})
