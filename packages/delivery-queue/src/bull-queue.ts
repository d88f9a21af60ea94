/**
 * The BullMQ `delivery` queues (producer side), one per shard (`QueueLayout`: shard 0 under the
 * `{mc}` tag, shard i under `{mc:i}`), on one fail-fast connection of their own, shared by
 * `Enqueue` and `QueueAdmin` — and `BullBoardQueue`, the one service that hands BullMQ's `Queue`s
 * out (to the dashboard's bull-board). `addWith` adds jobs in one MULTI together with other
 * commands on the same hash tag (the spool's body): one round trip, all or nothing, on a connection
 * of its own that knows only BullMQ's add scripts (`leanAdder`). Replication (`WAIT`) is
 * acknowledged on that connection, after that MULTI.
 *
 * Trusts: the Redis named by REDIS_URL. Touches: the `delivery` queue of every shard.
 */
import { type RedisCommand, RedisConnectionFactory } from "@mailconnect/redis-client"
import { Job, type JobsOptions, Queue } from "bullmq"
import { Context, Effect, Layer } from "effect"
import { QueueUnavailable } from "./errors"
import { QueueLayout } from "./layout"
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

/** A job to add: BullMQ's name, data and options (with our own `jobId`). */
export interface NewJob {
  readonly name: string
  readonly data: unknown
  readonly opts: JobsOptions & { readonly jobId: string }
}

/** A command of the MULTI refused or failed: the whole transaction is reported as failed. */
const failedReply = (replies: ReadonlyArray<[Error | null, unknown]> | null): string | undefined => {
  if (replies === null) return "transaction discarded"
  const failed = replies.find(([error]) => error !== null)
  return failed?.[0]?.message
}

/** BullMQ's add scripts as ioredis defined them on the queue's connection (`addStandardJob:6.7.0`, …). */
const ADD_SCRIPT = /^add(Standard|Delayed|Prioritized)Job\b/

/** What `loadAddScripts` uses of an ioredis client (a Redis, or a Cluster with its masters). */
interface ScriptTarget {
  readonly script: (subcommand: "LOAD", lua: string) => Promise<unknown>
}
interface IoredisScripts extends ScriptTarget {
  readonly scriptsSet?: Readonly<Record<string, { readonly lua: string }>>
  readonly nodes?: (role: "master") => ReadonlyArray<ScriptTarget>
}

/**
 * Loads BullMQ's add scripts into Redis (SCRIPT LOAD, allowed even at maxmemory), on every
 * master of a Cluster. ioredis marks a connection as holding a script once it has *sent* its
 * EVAL — also when that EVAL sat in a MULTI that Redis discarded (EXECABORT, e.g. OOM). Every
 * later add on the connection is then an EVALSHA that fails with NOSCRIPT, and a NOSCRIPT inside
 * a MULTI does not abort the other commands. Loading the scripts ourselves after a failed
 * transaction makes those EVALSHAs valid again.
 */
const loadAddScripts = async (client: IoredisScripts): Promise<void> => {
  const lua = Object.entries(client.scriptsSet ?? {})
    .filter(([name]) => ADD_SCRIPT.test(name))
    .map(([, script]) => script.lua)
  const targets = typeof client.nodes === "function" ? client.nodes("master") : [client]
  await Promise.all(targets.flatMap((node) => lua.map((script) => node.script("LOAD", script))))
}

/** An ioredis client with script commands defined on it (`defineCommand`). */
interface LeanClient extends IoredisScripts {
  readonly defineCommand: (name: string, definition: { numberOfKeys: number; lua: string }) => void
  readonly multi: () => unknown
}

/** What BullMQ's `addJobToTransaction` calls on a transaction: `runCommand(name, args)`. */
type Transaction = { exec: () => Promise<ReadonlyArray<[Error | null, unknown]> | null> } & {
  runCommand: (name: string, args: ReadonlyArray<unknown>) => unknown
  call: (command: string, ...args: ReadonlyArray<unknown>) => unknown
} & Record<string, (...args: ReadonlyArray<unknown>) => unknown>

/**
 * The enqueue transaction's own connection, with only BullMQ's add scripts defined on it — copied
 * from the queue's connection, where BullMQ defines all of its ~50 scripts. ioredis copies every
 * script method of a connection onto each MULTI it opens: on the queue's connection that copy was
 * a quarter of the enqueue's CPU (3 % of an ingress process). Defined once, on the first add, after
 * BullMQ loaded its scripts; the connection runs no command before (no auto-pipelining either:
 * ioredis#1931), and `WAIT` runs on it after the MULTI it acknowledges.
 */
const leanAdder = (queue: Queue, lean: LeanClient) => {
  let defined: Promise<void> | undefined
  const define = async () => {
    const source = (await queue.backend.client) as unknown as IoredisScripts
    for (const [name, script] of Object.entries(source.scriptsSet ?? {}))
      if (ADD_SCRIPT.test(name))
        lean.defineCommand(name, {
          numberOfKeys: (script as { numberOfKeys?: number }).numberOfKeys ?? 0,
          lua: script.lua,
        })
  }
  return async (): Promise<Transaction> => {
    defined ??= define().catch((e: unknown) => {
      defined = undefined
      throw e
    })
    await defined
    const multi = lean.multi() as Transaction
    // As BullMQ's own wrapper (`augmentTransaction`) does for the transactions it opens.
    multi.runCommand = (name, args) => {
      multi[name]!(args)
      return multi
    }
    return multi
  }
}

/**
 * `commands`, then every job's add, in one MULTI/EXEC on the enqueue connection. Jobs are built
 * as BullMQ's `addBulk` builds them (`Job#asJSON`, then `addJobToTransaction`), only on a MULTI
 * of ours instead of BullMQ's pipeline. Its option checks are not run: our ids never hold ':'
 * (`jobIdFor` encodes it) and we set no size limit, priority or deduplication.
 *
 * A transaction that failed has its add scripts loaded again (`loadAddScripts`); one whose adds
 * failed with NOSCRIPT — its other commands ran — is run once more: every command is idempotent
 * (HSET/DEL/SADD/PEXPIRE/SET of the same values, an add of a job id that is not there), so the
 * message ends up whole, or the sender gets a 4xx and the partial body expires with its TTL.
 */
const addWith = async (
  queue: Queue,
  open: () => Promise<Transaction>,
  lean: LeanClient,
  commands: ReadonlyArray<RedisCommand>,
  jobs: ReadonlyArray<NewJob>,
): Promise<void> => {
  const backend = queue.backend
  const transaction = async () => {
    const multi = await open()
    for (const [command, ...args] of commands) multi.call(command, ...args)
    for (const job of jobs) {
      const json = new Job(queue, job.name, job.data, job.opts, job.opts.jobId).asJSON()
      await backend.addJobToTransaction(multi as never, json, job.opts.jobId)
    }
    return failedReply(await multi.exec())
  }
  const reload = () => loadAddScripts(lean).catch(() => undefined)
  const failure = await transaction().catch(async (e: unknown) => {
    await reload()
    throw e
  })
  if (failure === undefined) return
  await reload()
  const retried = failure.includes("NOSCRIPT") ? await transaction() : failure
  if (retried !== undefined) throw new Error(retried)
}

/** Internal: the queue, the one-round-trip add and the replication acknowledgement. */
export class BullQueue extends Context.Tag("@mailconnect/delivery-queue/BullQueue")<
  BullQueue,
  {
    /** By shard: `queues[0]` is the `{mc}` tag's, the only one of an unsharded fleet. */
    readonly queues: ReadonlyArray<Queue>
    /** `commands` (keys under the shard's tag) and `jobs` into that shard's queue, or neither. */
    readonly addWith: (
      shard: number,
      commands: ReadonlyArray<RedisCommand>,
      jobs: ReadonlyArray<NewJob>,
    ) => Effect.Effect<void, QueueUnavailable>
    readonly replicated: Effect.Effect<void, QueueUnavailable>
  }
>() {
  static layerWith = (options: ReplicationOptions) =>
    Layer.scoped(
      BullQueue,
      Effect.gen(function* () {
        const factory = yield* RedisConnectionFactory
        const layout = yield* QueueLayout
        const { autoPipelining: _none, ...failFastAlone } = failFast
        const connection = yield* factory.connect({ purpose: "queue", ...failFastAlone })
        const enqueueConnection = yield* factory.connect({ purpose: "enqueue", ...failFastAlone })
        const lean = enqueueConnection as unknown as LeanClient
        const open = (shard: number) =>
          Effect.acquireRelease(
            Effect.sync(
              () =>
                new Queue(QUEUE_NAME, { connection, prefix: layout.tagOf(shard), skipWaitingForReady: true }),
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
          ).pipe(Effect.tap((queue) => queue.on("error", () => undefined)))
        const queues = yield* Effect.forEach(layout.all, open)
        const adders = queues.map((queue) => leanAdder(queue, lean))
        const waitReplicas = factory.config.topology._tag === "Cluster" ? 0 : (options.waitReplicas ?? 0)
        const waitTimeoutMs = options.waitTimeoutMs ?? 1_000
        const replicated =
          waitReplicas === 0
            ? Effect.void
            : Effect.tryPromise({
                try: () => enqueueConnection.call("WAIT", waitReplicas, waitTimeoutMs) as Promise<number>,
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
        return {
          queues,
          addWith: (shard, commands, jobs) =>
            Effect.tryPromise({
              try: () => addWith(queues[shard]!, adders[shard]!, lean, commands, jobs),
              catch: unavailable("enqueue"),
            }),
          replicated,
        }
      }),
    )
}

/** BullMQ's `Queue`s themselves, for bull-board (one entry per shard) and tests that inspect raw jobs. */
export class BullBoardQueue extends Context.Tag("@mailconnect/BullBoardQueue")<
  BullBoardQueue,
  {
    /** Shard 0's queue: the only one of an unsharded fleet. */
    readonly queue: Queue
    /** Every shard's, by shard. */
    readonly queues: ReadonlyArray<Queue>
  }
>() {
  static layer = Layer.effect(
    BullBoardQueue,
    Effect.map(BullQueue, ({ queues }) => ({ queue: queues[0]!, queues })),
  )
}
