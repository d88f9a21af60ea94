/**
 * Redis's AOF disk full, with real processes: Redis keeps its AOF in a small tmpfs of its own
 * (mounted here; we run as root), a relay takes mail, then the file system is filled to the last
 * block. What Redis does then depends on its fsync policy, and both are tested:
 * - `appendfsync always` (what docs/operations.md asks for): Redis cannot keep its promise and
 *   exits at the first failed AOF write ("Can't recover from AOF write error"). The relay answers
 *   4xx while it is gone; the space is freed and Redis started again on its AOF, as a supervisor
 *   would.
 * - `appendfsync everysec`: Redis stays up and refuses writes (MISCONF) until a write succeeds
 *   again, which it retries on its own once space is free.
 * Either way: 4xx while the AOF cannot be written, never 250 for mail not stored; after
 * recovery the relay takes mail again; Redis restarted on that AOF still has everything
 * acknowledged, and a delivery relay delivers exactly the accepted messages. The mount is
 * removed in afterAll, also when a test failed.
 *
 * Where mounting is not permitted (or MC_AOF_DISK=fsize), the disk is emulated with RLIMIT_FSIZE
 * on the running redis-server (`prlimit`), just above its AOF's size: the next AOF write that
 * grows the file gets SIGXFSZ, which ends Redis in either fsync mode — a Redis that exits, not one
 * that refuses writes, so the everysec case then checks the same as the always case.
 */
import { execFileSync } from "node:child_process"
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import {
  labPartner,
  policyOf,
  type SmtpRelay,
  type Stack,
  startStack,
  submit,
  waitFor,
} from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { hardKill } from "../support/processes"
import { type TopologyStack, topologyStack } from "../support/topology"

let base: string
let disk: string
let mounted = false
/** How the disk is made full: a real full tmpfs, or a file size limit on Redis (see above). */
let kind: "tmpfs" | "fsize" = "tmpfs"
let stack: Stack
const servers: Array<RedisServer> = []
const relays: Array<{ relay: SmtpRelay; prefix: string }> = []

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "mc-aofdisk-"))
  disk = join(base, "disk")
  mkdirSync(disk)
  try {
    if (process.env.MC_AOF_DISK === "fsize") throw new Error("asked for the RLIMIT_FSIZE emulation")
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", disk], { stdio: "pipe" })
    mounted = true
  } catch (e) {
    kind = "fsize"
    console.log(
      `AOF-DISK no tmpfs (${(e as Error).message.split("\n")[0]}): RLIMIT_FSIZE on redis-server instead`,
    )
  }
  stack = await startStack(["good"])
}, 120_000)

afterAll(async () => {
  for (const { relay, prefix } of relays) await hardKill(relay, prefix).catch(() => undefined)
  for (const server of servers) await server.stop({ keepData: true }).catch(() => undefined)
  await stack?.stop().catch(() => undefined)
  if (mounted) execFileSync("umount", ["-l", disk], { stdio: "pipe" })
  rmSync(base, { recursive: true, force: true })
})

/** Makes Redis's disk full; returns what frees it again. */
const fill = async (redis: RedisServer): Promise<() => void> => {
  if (kind === "tmpfs") {
    const filler = fillTmpfs()
    return () => rmSync(filler, { force: true })
  }
  const info = String(await redisCommand(redis.port, "INFO", "server"))
  const pid = /process_id:(\d+)/.exec(info)?.[1]
  if (!pid) throw new Error(`no process_id in INFO server: ${info.slice(0, 200)}`)
  const aof = String(await redisCommand(redis.port, "INFO", "persistence"))
  const size = Number(/aof_current_size:(\d+)/.exec(aof)?.[1] ?? 0)
  // The limit is per file: just above the largest AOF file, so the next appends cross it.
  execFileSync("prlimit", ["--pid", pid, `--fsize=${size + 512}`], { stdio: "pipe" })
  // Redis dies of SIGXFSZ; a restart starts a process without the limit.
  return () => {}
}

/** Fills the tmpfs to its last block; returns the filler's path (delete it to free the space). */
const fillTmpfs = (): string => {
  const filler = join(disk, "filler")
  const fd = openSync(filler, "w")
  try {
    for (let i = 0; i < 1_000; i++) writeSync(fd, Buffer.alloc(64 * 1024, 0x78))
  } catch {
    // ENOSPC: full, as intended. The last partial blocks too:
    try {
      for (let i = 0; i < 64; i++) writeSync(fd, Buffer.alloc(1024, 0x78))
    } catch {}
  }
  closeSync(fd)
  return filler
}

/** `INFO persistence`, or undefined when Redis does not answer (it exited). */
const persistence = (redis: RedisServer) =>
  redisCommand(redis.port, "INFO", "persistence").then(String, () => undefined)

type Submitted = Awaited<ReturnType<typeof submit>>

const episode = async (fsync: "always" | "everysec") => {
  const dir = join(disk, fsync)
  mkdirSync(dir)
  const redis = await startRedis({ dir, args: ["--appendonly", "yes", "--appendfsync", fsync] })
  servers.push(redis)
  const topology: TopologyStack = await topologyStack(redis.url, { stack, prefix: `aof${fsync}` })
  const good = stack.partners.scenario("good")
  await topology.publish(
    policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
    1,
  )
  const start = async (id: string, roles: string) => {
    const relay = await topology.startRelay(id, { RELAY_ROLES: roles, RELAY_JOB_LOCK_DURATION: "2s" })
    relays.push({ relay, prefix: topology.prefix })
    await waitFor(`${id} ready`, async () => (await relay.ready())?.status === 200, { output: relay.output })
    return relay
  }
  const ingress = await start(`aof-${fsync}-ingress`, "ingress")
  const to = ["bob@bank.example"]
  const send = (subject: string) => submit(ingress, stack.relayCa, to, `${fsync} ${subject}`)
  const before = await Promise.all([0, 1, 2].map((i) => send(`before ${i}`)))
  expect(before.map((r) => r.code)).toEqual([250, 250, 250])

  const free = await fill(redis)
  const during: Array<Submitted> = []
  let status: string | undefined
  try {
    // Redis notices at its next AOF write: it exits (always) or refuses writes (everysec).
    await waitFor(
      "Redis to hit the full disk",
      async () => {
        during.push(await send(`during ${during.length}`))
        status = await persistence(redis)
        return status === undefined || /aof_last_write_status:err/.test(status)
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    )
    for (let i = 0; i < 3; i++) during.push(await send(`during ${during.length}`))
  } finally {
    free()
  }
  if (fsync === "always" || kind === "fsize") expect(status).toBeUndefined()
  else expect(status).toMatch(/aof_last_write_status:err/)
  // From the first refusal on every reply is a 4xx; never a 250 for mail not stored.
  const refusedFrom = during.findIndex((r) => r.code !== 250)
  expect(refusedFrom).toBeGreaterThanOrEqual(0)
  for (const r of during.slice(refusedFrom)) {
    expect(r.ok).toBe(false)
    expect(r.response).toMatch(/^4\d\d /)
  }
  console.log(`AOF-DISK ${kind} ${fsync}: ${JSON.stringify(during.map((r) => r.response.slice(0, 60)))}`)
  const acceptedDuring = during.flatMap((r, i) => (r.code === 250 ? [`during ${i}`] : []))

  // Recovery: a supervisor starts the exited Redis again; a live one writes again by itself.
  if (status === undefined) await redis.restart()
  await waitFor(
    "Redis to write its AOF again",
    async () => /aof_last_write_status:ok/.test((await persistence(redis)) ?? ""),
    {
      timeoutMs: 30_000,
    },
  )
  const after = await waitFor(
    "the relay to take mail again",
    async () => {
      const r = await send("after")
      return r.code === 250 ? r : undefined
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  expect(after.response).toMatch(/^250 /)

  // What is on disk is complete: Redis replays its AOF, then a delivery relay sends everything accepted.
  await redis.restart()
  await start(`aof-${fsync}-delivery`, "delivery")
  const subjects = () =>
    good.recorder.messages().map((m) => /^Subject: (.*)\r$/m.exec(m.body?.toString() ?? "")?.[1])
  const wanted = ["before 0", "before 1", "before 2", ...acceptedDuring, "after"].map((s) => `${fsync} ${s}`)
  await waitFor("every accepted message delivered", () => wanted.every((s) => subjects().includes(s)), {
    timeoutMs: 60_000,
  })
  const refused = during.map((_, i) => `${fsync} during ${i}`).filter((s) => !wanted.includes(s))
  expect(subjects().filter((s) => s !== undefined && refused.includes(s))).toEqual([])
  expect(refused.length).toBeGreaterThan(0)
}

describe("Redis AOF disk full", { timeout: 180_000 }, () => {
  it("appendfsync always: Redis exits; 4xx meanwhile; restarted on its AOF after space frees, nothing acknowledged lost", () =>
    episode("always"))

  it("appendfsync everysec: Redis refuses writes; 4xx meanwhile; writes again once space frees, nothing acknowledged lost", () =>
    episode("everysec"))
})
