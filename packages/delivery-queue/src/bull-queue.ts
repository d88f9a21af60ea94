/**
 * The BullMQ `delivery` queue (producer side) on a fail-fast connection of its own, shared by
 * `Enqueue` and `QueueAdmin` — and `BullBoardQueue`, the one service that hands BullMQ's `Queue`
 * out (to the dashboard's bull-board). Replication (`WAIT`) is acknowledged on the same
 * connection: the master's offset after the queue's last write covers the spool too.
 *
 * Trusts: the Redis named by REDIS_URL. Touches: the `delivery` queue.
 */
import { RedisConnectionFactory } from "@mailconnect/redis-client"
import { Queue } from "bullmq"
import { Context, Effect, Layer } from "effect"
import { QueueUnavailable } from "./errors"
import { failFast } from "./spool"

export const QUEUE_NAME = "delivery"

export const unavailable = (operation: string) => (e: unknown) =>
  new QueueUnavailable({ operation, detail: e instanceof Error ? e.message : String(e) })

export interface ReplicationOptions {
  /**
   * Replicas that must hold a message before it counts as accepted (Redis `WAIT`); 0 = the
   * master's acknowledgement suffices. With Sentinel this closes the window in which a message
   * acknowledged just before a failover is lost with the old master. Not used on Cluster.
   */
  readonly waitReplicas?: number
  readonly waitTimeoutMs?: number
}

/** Internal: the queue and the replication acknowledgement. */
export class BullQueue extends Context.Tag("@mailconnect/delivery-queue/BullQueue")<
  BullQueue,
  { readonly queue: Queue; readonly replicated: Effect.Effect<void, QueueUnavailable> }
>() {
  static layerWith = (options: ReplicationOptions) =>
    Layer.scoped(
      BullQueue,
      Effect.gen(function* () {
        const factory = yield* RedisConnectionFactory
        const connection = yield* factory.connect({ purpose: "queue", ...failFast })
        const queue = yield* Effect.acquireRelease(
          Effect.sync(
            () => new Queue(QUEUE_NAME, { connection, prefix: factory.keys.tag, skipWaitingForReady: true }),
          ),
          (q) =>
            Effect.flatMap(factory.closeBudget, (budget) =>
              Effect.promise(() => q.close().catch(() => undefined)).pipe(
                // BullMQ's close() awaits its connection's initialisation, which a Redis that is
                // down never finishes: give up with the budget (the connection is cut next).
                Effect.interruptible,
                Effect.timeout(budget),
                Effect.ignore,
              ),
            ),
        )
        queue.on("error", () => undefined)
        const waitReplicas = factory.config.topology._tag === "Cluster" ? 0 : (options.waitReplicas ?? 0)
        const waitTimeoutMs = options.waitTimeoutMs ?? 1_000
        const replicated =
          waitReplicas === 0
            ? Effect.void
            : Effect.tryPromise({
                try: () => connection.call("WAIT", waitReplicas, waitTimeoutMs) as Promise<number>,
                catch: unavailable("replication"),
              }).pipe(
                Effect.filterOrFail(
                  (acknowledged) => acknowledged >= waitReplicas,
                  (acknowledged) =>
                    new QueueUnavailable({
                      operation: "replication",
                      detail: `${acknowledged} of ${waitReplicas} replica(s) acknowledged within ${waitTimeoutMs} ms`,
                    }),
                ),
                Effect.asVoid,
              )
        return { queue, replicated }
      }),
    )
}

/** BullMQ's `Queue` itself, for bull-board (and tests that inspect raw jobs). */
export class BullBoardQueue extends Context.Tag("@mailconnect/BullBoardQueue")<
  BullBoardQueue,
  { readonly queue: Queue }
>() {
  static layer = Layer.effect(
    BullBoardQueue,
    Effect.map(BullQueue, ({ queue }) => ({ queue })),
  )
}
