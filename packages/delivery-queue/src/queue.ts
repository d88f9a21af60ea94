/**
 * The delivery queue's services in one layer, as the relay, the CLI and the dashboard use them:
 * `Enqueue` (store a message), `QueueAdmin` (flush, show, counts), `Spool` (bodies),
 * `DeliveryStats` (the dashboard's read model), `BullBoardQueue` (BullMQ's `Queue`s for
 * bull-board) and `QueueLayout` (the shards). Each consumer asks only for the service it needs.
 *
 * Trusts: the Redis named by REDIS_URL. Touches: the `delivery` queue, the spool and stats keys.
 */
import { Layer } from "effect"
import { QueueAdmin } from "./admin"
import { BullBoardQueue, BullQueue, type ReplicationOptions } from "./bull-queue"
import { Enqueue } from "./enqueue"
import { QueueLayout } from "./layout"
import { Spool } from "./spool"
import { DeliveryStats } from "./stats"

export class DeliveryQueue {
  static layerWith = (options: ReplicationOptions) =>
    Layer.mergeAll(Enqueue.layer, QueueAdmin.layer, BullBoardQueue.layer).pipe(
      Layer.provide(BullQueue.layerWith(options)),
      Layer.provideMerge(Spool.layer),
      Layer.provideMerge(DeliveryStats.layer),
      Layer.provideMerge(QueueLayout.layer),
    )

  static layer = DeliveryQueue.layerWith({})
}

/** Everything `DeliveryQueue.layer` provides. */
export type DeliveryQueueServices = Layer.Layer.Success<typeof DeliveryQueue.layer>
