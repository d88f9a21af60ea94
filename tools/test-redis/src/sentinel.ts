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

const until = async (
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
  lastSeen: () => string = () => "",
) => {
  const deadline = Date.now() + timeoutMs
  let failure = ""
  while (
    !(await check().catch((e: unknown) => {
      failure = e instanceof Error ? e.message : String(e)
      return false
    }))
  ) {
    if (Date.now() > deadline)
      throw new Error(`sentinel setup: timed out waiting for ${what} (last seen: ${lastSeen() || failure})`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * One sentinel on a free port, answering PING. The port is free when chosen, but another test's
 * server may bind it before the sentinel does: a sentinel that exits is started again on another
 * port (its output is in the error if it never comes up).
 */
const startSentinel = async (
  dir: string,
  index: number,
  masterName: string,
  master: RedisServer,
): Promise<{ readonly child: ChildProcess; readonly port: number }> => {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const conf = join(dir, `sentinel-${index}-${attempt}.conf`)
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
    const child = spawn(...tiedToParent("redis-server", [conf, "--sentinel"]), {
      stdio: ["ignore", "pipe", "pipe"],
    })
    let output = ""
    const keep = (c: Buffer) => {
      output = (output + c.toString()).slice(-2000)
    }
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    const deadline = Date.now() + 10_000
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) break
      const pong = await redisCommand(port, "PING").catch(() => undefined)
      // Our own sentinel answers SENTINEL MYID; a redis-server that took the port does not.
      if (pong === "PONG" && (await redisCommand(port, "SENTINEL", "MYID").catch(() => undefined)))
        return { child, port }
      if (Date.now() > deadline) {
        child.kill("SIGKILL")
        break
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    if (attempt >= 3) throw new Error(`sentinel setup: sentinel ${index} did not start: ${output}`)
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
      const started = await startSentinel(dir, i, masterName, master)
      sentinels.push(started.child)
      sentinelPorts.push(started.port)
    }
    await until("replica in sync", async () =>
      String(await redisCommand(replica.port, "INFO", "replication")).includes("master_link_status:up"),
    )
    for (const port of sentinelPorts) {
      let seen: Record<string, string> = {}
      await until(
        `sentinel ${port} to see the replica and its peers`,
        async () => {
          seen = fields(await redisCommand(port, "SENTINEL", "MASTER", masterName))
          return seen["num-slaves"] === "1" && seen["num-other-sentinels"] === "2"
        },
        60_000,
        () => `num-slaves ${seen["num-slaves"]}, num-other-sentinels ${seen["num-other-sentinels"]}`,
      )
    }
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
