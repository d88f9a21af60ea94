/**
 * A real Redis Cluster on loopback for tests: N masters (`--cluster-enabled yes`, no replicas),
 * joined with `redis-cli --cluster create`, ready once every node reports `cluster_state:ok`.
 * Each node is an ordinary `startRedis` server with its own directory and `nodes.conf`.
 */
import { spawn } from "node:child_process"
import { redisCommand } from "./command"
import { type RedisServer, startRedis } from "./index"

export interface RedisClusterOptions {
  readonly masters?: number
  /** Extra `redis-server` arguments for every node. */
  readonly args?: ReadonlyArray<string>
}

export interface RedisCluster {
  readonly nodes: ReadonlyArray<RedisServer>
  /** `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,…` for `REDIS_URL`. */
  readonly url: string
  /** The node serving `key`'s slot (by asking the cluster, not by computing CRC16 here). */
  readonly nodeFor: (key: string) => Promise<RedisServer>
  readonly stop: () => Promise<void>
}

const run = (
  command: string,
  args: ReadonlyArray<string>,
): Promise<{ code: number | null; output: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (c) => {
      output += c.toString()
    })
    child.stderr.on("data", (c) => {
      output += c.toString()
    })
    child.once("error", reject)
    child.once("exit", (code) => resolve({ code, output }))
  })

const clusterOk = async (node: RedisServer): Promise<boolean> => {
  const info = await redisCommand(node.port, "CLUSTER", "INFO").catch(() => "")
  return typeof info === "string" && info.includes("cluster_state:ok")
}

export const startCluster = async (options: RedisClusterOptions = {}): Promise<RedisCluster> => {
  const masters = options.masters ?? 3
  if (masters < 3) throw new Error("redis-cli --cluster create needs at least 3 masters")
  const nodes: Array<RedisServer> = []
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()))
  }
  try {
    for (let i = 0; i < masters; i++)
      nodes.push(
        await startRedis({
          args: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "5000",
            // Without it a node may announce an address CLUSTER SLOTS clients cannot use.
            "--cluster-announce-ip",
            "127.0.0.1",
            ...(options.args ?? []),
          ],
        }),
      )
    const created = await run("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => `${n.host}:${n.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ])
    if (created.code !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.output}`)
    const deadline = Date.now() + 30_000
    while (!(await Promise.all(nodes.map(clusterOk))).every(Boolean)) {
      if (Date.now() > deadline) throw new Error("cluster did not reach cluster_state:ok")
      await new Promise((r) => setTimeout(r, 100))
    }
  } catch (e) {
    await stop()
    throw e
  }
  return {
    nodes,
    url: `redis-cluster://${nodes.map((n) => `${n.host}:${n.port}`).join(",")}`,
    nodeFor: async (key) => {
      const slot = Number(await redisCommand(nodes[0]!.port, "CLUSTER", "KEYSLOT", key))
      const slots = (await redisCommand(nodes[0]!.port, "CLUSTER", "SLOTS")) as ReadonlyArray<
        ReadonlyArray<unknown>
      >
      const range = slots.find((r) => Number(r[0]) <= slot && slot <= Number(r[1]))
      const port = Number((range?.[2] as ReadonlyArray<unknown> | undefined)?.[1])
      const node = nodes.find((n) => n.port === port)
      if (!node) throw new Error(`no node serves slot ${slot}`)
      return node
    },
    stop,
  }
}
