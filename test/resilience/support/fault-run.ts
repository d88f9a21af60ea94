/**
 * One fault scenario's world: its own Redis (AOF, fsync always, so a killed server loses nothing
 * it acknowledged), its own key prefix and policy bundle on the shared relay stack, and a relay
 * process that can be killed and started again as a supervisor (systemd, Kubernetes) would.
 */
import type { PolicySet } from "@mailconnect/policy"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { type SmtpRelay, type Stack, waitFor } from "@mailconnect/test-support"
import { hardKill } from "./processes"
import { type TopologyStack, topologyStack } from "./topology"

export type Role = "ingress" | "delivery"

export interface FaultRun {
  readonly name: string
  readonly redis: RedisServer
  readonly topology: TopologyStack
  /** The relay currently taking SMTP (replaced by `restart`). */
  readonly relay: () => SmtpRelay
  /** The relay currently running `role`. */
  readonly process: (role: Role) => SmtpRelay
  /** SIGKILL of the process running `role` (the real one, see `processes.ts`). */
  readonly kill: (role: Role) => Promise<void>
  /** Starts a new process for the role(s) of the one that died, and waits until it is ready. */
  readonly restart: (role: Role) => Promise<SmtpRelay>
  readonly stop: () => Promise<void>
}

export interface FaultRunOptions {
  /** Ingress and delivery in separate processes (a crash of one leaves the other running). */
  readonly split?: boolean
  readonly env?: Record<string, string>
}

export const AOF = ["--appendonly", "yes", "--appendfsync", "always"]

/** Fast takeover of a dead worker's jobs; fast policy polling. */
const RELAY_ENV = { RELAY_JOB_LOCK_DURATION: "2s", RELAY_POLICY_POLL_INTERVAL: "500ms" }

export const startFaultRun = async (
  stack: Stack,
  name: string,
  policy: PolicySet,
  options: FaultRunOptions = {},
): Promise<FaultRun> => {
  const redis = await startRedis({ args: AOF })
  const topology = await topologyStack(redis.url, { stack, prefix: `f${name.replace(/[^a-z0-9]/g, "")}` })
  await topology.publish(policy, 1)
  const started: Array<SmtpRelay> = []
  const current: Partial<Record<Role, SmtpRelay>> = {}
  const launch = async (roles: ReadonlyArray<Role>) => {
    const relay = await topology.startRelay(`${name}-${started.length + 1}`, {
      ...RELAY_ENV,
      RELAY_ROLES: roles.join(","),
      ...options.env,
    })
    started.push(relay)
    await waitFor(`${name}: relay ready`, async () => (await relay.ready())?.status === 200)
    // Readiness can answer before the SMTP listeners are bound (a sharded relay opens a worker
    // connection per shard first): wait for the relay to say it runs.
    await waitFor(`${name}: relay running`, () => relay.output().includes('message="relay running"'))
    for (const role of roles) current[role] = relay
    return relay
  }
  if (options.split) {
    await launch(["delivery"])
    await launch(["ingress"])
  } else await launch(["ingress", "delivery"])
  return {
    name,
    redis,
    topology,
    relay: () => current.ingress!,
    process: (role) => current[role]!,
    kill: (role) => hardKill(current[role]!, topology.prefix),
    restart: (role) => launch(options.split ? [role] : ["ingress", "delivery"]),
    stop: async () => {
      await Promise.all(started.map((r) => hardKill(r, topology.prefix)))
      await redis.stop()
    },
  }
}
