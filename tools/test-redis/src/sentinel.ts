/**
 * A real Sentinel setup on loopback for tests: one master, one replica and three sentinels
 * (quorum 2), ready once every sentinel knows the replica and the two other sentinels — only
 * then can a failover be agreed. `failover()` asks for one and waits until the replica is the
 * master everywhere, as a planned switchover in production would.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type RespValue, redisCommand } from "./command"
import { freePort, type RedisServer, startRedis } from "./index"
import { tiedToParent } from "./lifeline"

export interface SentinelSetupOptions {
  readonly masterName?: string
  /** Extra `redis-server` arguments for the master and the replica (e.g. AOF). */
  readonly args?: ReadonlyArray<string>
}

export interface SentinelSetup {
  readonly masterName: string
  /** The servers as started; after `failover()` their roles are swapped. */
  readonly master: RedisServer
  readonly replica: RedisServer
  readonly sentinelPorts: ReadonlyArray<number>
  /** `redis-sentinel://127.0.0.1:s1,…/<masterName>` for `REDIS_URL`. */
  readonly url: string
  /** The master's port as the sentinels currently report it. */
  readonly currentMasterPort: () => Promise<number>
  /** SENTINEL FAILOVER, then waits until every sentinel and the new master agree. */
  readonly failover: () => Promise<number>
  readonly stop: () => Promise<void>
}

const fields = (value: RespValue): Record<string, string> => {
  const out: Record<string, string> = {}
  if (!Array.isArray(value)) return out
  for (let i = 0; i + 1 < value.length; i += 2) out[String(value[i])] = String(value[i + 1])
  return out
}

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`sentinel setup: timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export const startSentinelSetup = async (options: SentinelSetupOptions = {}): Promise<SentinelSetup> => {
  const masterName = options.masterName ?? "mcmaster"
  const args = options.args ?? []
  const dir = mkdtempSync(join(tmpdir(), "mc-sentinels-"))
  const sentinels: Array<ChildProcess> = []
  const servers: Array<RedisServer> = []
  const stop = async () => {
    await Promise.all(
      sentinels.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.exitCode !== null || s.signalCode !== null) return resolve()
            s.once("exit", () => resolve())
            s.kill("SIGTERM")
          }),
      ),
    )
    await Promise.all(servers.map((s) => s.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const master = await startRedis({ args })
    servers.push(master)
    const replica = await startRedis({ args: [...args, "--replicaof", master.host, String(master.port)] })
    servers.push(replica)
    const sentinelPorts: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const port = await freePort()
      const conf = join(dir, `sentinel-${i}.conf`)
      // Sentinel rewrites its config file (discovered peers, epochs): one writable file each.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel monitor ${masterName} ${master.host} ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} 2000`,
          `sentinel failover-timeout ${masterName} 10000`,
          `sentinel parallel-syncs ${masterName} 1`,
          "",
        ].join("\n"),
      )
      sentinels.push(spawn(...tiedToParent("redis-server", [conf, "--sentinel"]), { stdio: "ignore" }))
      sentinelPorts.push(port)
    }
    await until("replica in sync", async () =>
      String(await redisCommand(replica.port, "INFO", "replication")).includes("master_link_status:up"),
    )
    for (const port of sentinelPorts)
      await until(`sentinel ${port} to see the replica and its peers`, async () => {
        const state = fields(await redisCommand(port, "SENTINEL", "MASTER", masterName))
        return state["num-slaves"] === "1" && state["num-other-sentinels"] === "2"
      })
    const currentMasterPort = async () => {
      const address = await redisCommand(sentinelPorts[0]!, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName)
      return Number((address as ReadonlyArray<RespValue>)[1])
    }
    return {
      masterName,
      master,
      replica,
      sentinelPorts,
      url: `redis-sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(",")}/${masterName}`,
      currentMasterPort,
      failover: async () => {
        const before = await currentMasterPort()
        const after = before === master.port ? replica : master
        await redisCommand(sentinelPorts[0]!, "SENTINEL", "FAILOVER", masterName)
        await until("every sentinel to name the new master", async () => {
          for (const port of sentinelPorts) {
            const address = await redisCommand(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName)
            if (Number((address as ReadonlyArray<RespValue>)[1]) !== after.port) return false
          }
          return String(await redisCommand(after.port, "INFO", "replication")).includes("role:master")
        })
        return after.port
      },
      stop,
    }
  } catch (e) {
    await stop()
    throw e
  }
}
