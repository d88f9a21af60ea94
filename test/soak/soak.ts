/**
 * The chaos soak: for `minutes`, a steady stream of mail over SMTP (STARTTLS + AUTH, a fresh
 * connection each) into two or three real relay processes on one Redis (AOF, fsync always; or a
 * Sentinel pair), while a seeded fault script kills relays (SIGKILL, SIGTERM) and starts them
 * again, restarts and pauses Redis, fails Sentinel over, makes the partner refuse, go silent,
 * drop the connection before its final reply or offer no STARTTLS, and rotates the partner's
 * certificate to a new CA with a policy publish before and after. Then the faults stop, the
 * queue drains, and the ledger (`ledger.ts`) is judged. Processes it starts are stopped by pid,
 * also on failure. Loopback only.
 */
import { createHash, randomBytes } from "node:crypto"
import type { Partner, PolicySet } from "@mailconnect/policy"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, type SentinelSetup, startRedis, startSentinelSetup } from "@mailconnect/test-redis"
import {
  labPartner,
  partner,
  policyOf,
  type SmtpRelay,
  type Stack,
  startStack,
  waitFor,
} from "@mailconnect/test-support"
import { AOF } from "../resilience/support/fault-run"
import { submissionTransport } from "../resilience/support/load"
import { prng } from "../resilience/support/prng"
import { hardKill } from "../resilience/support/processes"
import { type TopologyStack, topologyStack } from "../resilience/support/topology"
import { describeUnsettled } from "./diagnose"
import { type FlakyPartner, type PartnerMode, startFlakyPartner } from "./flaky-partner"
import {
  type Accepted,
  type Dsn,
  dsnOf,
  type Fault,
  type Figures,
  judge,
  type MessageKind,
  SOAK_HEADER,
  type Verdict,
} from "./ledger"

export interface SoakOptions {
  readonly minutes: number
  readonly relays: number
  /** Relays on a Sentinel pair (failovers among the faults) instead of one AOF server. */
  readonly sentinel: boolean
  readonly seed: number
  /** Pause between two submissions (each of up to `senders` loops). */
  readonly intervalMs?: number
  readonly senders?: number
}

export interface SoakResult {
  readonly figures: Figures
  readonly verdict: Verdict
  /** Ids still unsettled when the drain gave up (empty on success). */
  readonly unsettled: ReadonlyArray<string>
}

const FLAKY = "mx.flaky.lab.test"
/** Fast retries to the enforce partner: faults are seconds long, the soak minutes. */
const FLAKY_RETRY = {
  schedule: [1_000, 2_000],
  every: 3_000,
  warnAfter: 14_400_000,
  expireAfter: 864_000_000,
}
/** The always-deferring partner: a delay warning after 8 s, the NDR at 20 s. */
export const DEFER_RETRY = { schedule: [3_000, 3_000], every: 4_000, warnAfter: 8_000, expireAfter: 20_000 }

const RELAY_ENV = {
  // A dead relay's jobs are taken over within ~2 × this (lock + stall check).
  RELAY_JOB_LOCK_DURATION: "5s",
  RELAY_POLICY_POLL_INTERVAL: "500ms",
  RELAY_BREAKER_COOLDOWN: "2s",
  RELAY_DRAIN_TIMEOUT: "5s",
  RELAY_DELIVERY_CONCURRENCY: "8",
}
/** SIGTERM must end a relay within RELAY_DRAIN_DELAY (0) + RELAY_DRAIN_TIMEOUT + this margin. */
const SIGTERM_BOUND_MS = 5_000 + 10_000

const caFile = (pem: string) => ({
  file: "certs/flaky.pem",
  pem,
  sha256: createHash("sha256").update(pem).digest("hex"),
  notAfter: "2036-01-01T00:00:00.000Z",
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Redis {
  readonly url: string
  /** The server currently master (the only one without Sentinel). */
  readonly current: () => Promise<RedisServer>
  readonly failover?: () => Promise<unknown>
  readonly stop: () => Promise<void>
}

const startSoakRedis = async (sentinel: boolean): Promise<Redis> => {
  if (!sentinel) {
    const server = await startRedis({ args: AOF })
    return { url: server.url, current: async () => server, stop: () => server.stop() }
  }
  const setup: SentinelSetup = await startSentinelSetup({ args: AOF })
  return {
    url: setup.url,
    current: async () => {
      const port = await setup.currentMasterPort()
      return setup.master.port === port ? setup.master : setup.replica
    },
    failover: () => setup.failover(),
    stop: () => setup.stop(),
  }
}

export const runSoak = async (options: SoakOptions): Promise<SoakResult> => {
  const random = prng(options.seed)
  const cleanup: Array<() => Promise<unknown>> = []
  const log = (line: string) => console.log(`soak ${new Date().toISOString()} ${line}`)
  try {
    const stack: Stack = await startStack(["good", "rcpt-4xx"])
    cleanup.push(() => stack.stop())
    const redis = await startSoakRedis(options.sentinel)
    cleanup.push(() => redis.stop())
    const topology: TopologyStack = await topologyStack(redis.url, {
      stack,
      prefix: `soak${randomBytes(3).toString("hex")}`,
    })
    let ca = await createRootCa({ commonName: "flaky partner CA 1" })
    const flaky: FlakyPartner = await startFlakyPartner(FLAKY, await ca.issueServer({ names: [FLAKY] }))
    cleanup.push(() => flaky.stop())
    const mailbox = stack.partners.scenario("good")

    const flakyPartner = (caPem: string): Partner =>
      partner("flaky", {
        servers: [{ host: flaky.host, port: flaky.port }],
        tls: {
          mode: "enforce",
          minVersion: "TLSv1.2",
          verify: { trust: "pkix", names: [FLAKY], pins: [], ca: caFile(caPem) },
        },
        retry: FLAKY_RETRY,
      })
    const policy = (caPem: string): PolicySet =>
      policyOf(
        [flakyPartner(caPem), { ...labPartner(stack.partners, "greylist", "rcpt-4xx"), retry: DEFER_RETRY }],
        { host: mailbox.host, port: mailbox.port },
      )
    let serial = 1
    await topology.publish(policy(ca.certPem), serial)

    // Relays: slots, each running one process at a time; a killed one is started again.
    const faults: Array<Fault> = []
    const faultCounts: Record<string, number> = {}
    const relays: Array<SmtpRelay | undefined> = []
    const all: Array<SmtpRelay> = []
    let generation = 0
    let restarts = 0
    const sigtermMs: Array<number> = []
    // On Sentinel, a 250 only once a replica holds the message: a failover loses nothing acknowledged.
    const env = options.sentinel ? { ...RELAY_ENV, RELAY_REDIS_WAIT_REPLICAS: "1" } : RELAY_ENV
    const launch = async (slot: number) => {
      const relay = await topology.startRelay(`soak-r${slot}-g${++generation}`, env)
      all.push(relay)
      await waitFor(`soak relay ${relay.id} ready`, async () => (await relay.ready())?.status === 200, {
        timeoutMs: 60_000,
        output: relay.output,
      })
      relays[slot] = relay
      return relay
    }
    cleanup.push(() => Promise.all(all.map((r) => hardKill(r, topology.prefix))))
    for (let slot = 0; slot < options.relays; slot++) await launch(slot)

    // The stream of mail.
    const accepted: Array<Accepted> = []
    const refused: Record<string, number> = {}
    let sent = 0
    let sending = true
    const kindFor = (n: number): MessageKind =>
      n % 20 === 7 ? "defer" : n % 20 === 13 ? "reject" : "deliver"
    const recipientFor = (n: number, kind: MessageKind) =>
      kind === "defer"
        ? `defer${n}@greylist.example`
        : kind === "reject"
          ? `reject${n}@flaky.example`
          : `user${n}@flaky.example`
    const sendOne = async () => {
      const up = relays.filter((r): r is SmtpRelay => r !== undefined)
      if (up.length === 0) return
      const relay = random.pick(up)
      const n = sent++
      const id = `s-${n}`
      const kind = kindFor(n)
      const to = recipientFor(n, kind)
      const transport = submissionTransport(relay, stack.relayCa)
      try {
        const info = await transport.sendMail({
          envelope: { from: "alice@customer.example", to: [to] },
          raw: [
            "From: alice@customer.example",
            `To: ${to}`,
            `Subject: soak ${id}`,
            `${SOAK_HEADER}: ${id}`,
            "",
            "x".repeat(1_000 + random.int(4_000)),
            "",
          ].join("\r\n"),
        })
        if (/^250[ -]/.test(info.response))
          accepted.push({
            id,
            kind,
            relay: relay.id,
            queueId: /queued as (\S+)/.exec(info.response)?.[1],
            acceptedAt: Date.now(),
          })
        else refused[info.response.slice(0, 9)] = (refused[info.response.slice(0, 9)] ?? 0) + 1
      } catch (e) {
        const error = e as { response?: string; code?: string; message: string }
        const key = error.response?.slice(0, 9) ?? error.code ?? "error"
        refused[key] = (refused[key] ?? 0) + 1
      } finally {
        transport.close()
      }
    }
    const senders = Array.from({ length: options.senders ?? 2 }, async () => {
      while (sending) {
        await sendOne()
        await sleep(options.intervalMs ?? 250)
      }
    })

    // The fault script.
    const faultPhaseMs = options.minutes * 60_000 * 0.75
    const faultsEnd = Date.now() + faultPhaseMs
    const inject = async (kind: string, target: string, act: () => Promise<void>, counted = true) => {
      const fault: Fault = { kind, target, from: Date.now(), to: Date.now() }
      faults.push(fault)
      if (counted) faultCounts[kind] = (faultCounts[kind] ?? 0) + 1
      log(`fault ${kind} ${target}`)
      try {
        await act()
      } finally {
        fault.to = Date.now()
      }
    }
    const killRelay = async (signal: "SIGKILL" | "SIGTERM") => {
      const slot = random.int(options.relays)
      const relay = relays[slot]
      if (!relay) return
      await inject(`relay-${signal.toLowerCase()}`, relay.id, async () => {
        relays[slot] = undefined
        if (signal === "SIGKILL") await hardKill(relay, topology.prefix)
        else {
          const started = Date.now()
          await relay.stop("SIGTERM")
          sigtermMs.push(Date.now() - started)
        }
        await sleep(500 + random.int(2_000))
        await launch(slot)
        restarts++
      })
    }
    const partnerFault = (mode: PartnerMode) => async () => {
      const switchTo = (next: PartnerMode) =>
        inject("partner-reset", `${flaky.setMode(next)} connections`, async () => {}, false)
      await inject(`partner-${mode}`, FLAKY, async () => {
        await switchTo(mode)
        await sleep(2_000 + random.int(5_000))
        await switchTo("good")
      })
    }
    const rotate = async () => {
      await inject("cert-rotation", FLAKY, async () => {
        const next = await createRootCa({ commonName: `flaky partner CA ${serial + 1}` })
        // Publish both anchors, move the server to the new CA, then publish only the new one.
        await topology.publish(policy(`${ca.certPem}${next.certPem}`), ++serial)
        await sleep(2_000)
        await flaky.rotate(await next.issueServer({ names: [FLAKY] }))
        ca = next
        await sleep(2_000)
        await topology.publish(policy(ca.certPem), ++serial)
      })
    }
    // Without Sentinel only: a Sentinel node restarted on its start-up arguments comes back as
    // what it was started as (after a failover: a second master, or a replica of a replica) — a
    // harness artefact, not a fault. With Sentinel the master is lost by failover and pause.
    const redisRestart = async () => {
      const server = await redis.current()
      await inject("redis-restart", `:${server.port}`, () => server.restart())
    }
    const redisPause = async () => {
      const server = await redis.current()
      await inject("redis-pause", `:${server.port}`, async () => {
        server.pause()
        // Short of Sentinel's down-after (2 s) when there is one: a pause, not a failover.
        await sleep(redis.failover ? 1_000 + random.int(800) : 1_000 + random.int(4_000))
        server.resume()
      })
    }
    // A failover whose agreement takes longer than the helper waits (30 s, under load) is part of
    // the fault, not the end of the soak: counted, and the relays have to cope with it.
    const failover = async () => {
      if (redis.failover)
        await inject("sentinel-failover", "master", () =>
          redis.failover!().then(
            () => {},
            (e: Error) => {
              faultCounts["sentinel-failover-slow"] = (faultCounts["sentinel-failover-slow"] ?? 0) + 1
              log(`sentinel failover not agreed in time: ${e.message}`)
            },
          ),
        )
    }
    const script = [
      () => killRelay("SIGKILL"),
      () => killRelay("SIGTERM"),
      ...(redis.failover ? [] : [redisRestart]),
      redisPause,
      ...(redis.failover ? [failover] : []),
      partnerFault("refuse"),
      partnerFault("silent"),
      partnerFault("drop-final"),
      partnerFault("plaintext"),
      rotate,
    ]
    // A shuffled deck of the script: every family comes up once per round, in a seeded order.
    let deck: Array<() => Promise<void>> = []
    await sleep(3_000)
    while (Date.now() < faultsEnd) {
      if (deck.length === 0) deck = [...script].sort(() => random.next() - 0.5)
      await deck.pop()!()
      await sleep(1_000 + random.int(3_000))
    }
    log("faults stop")
    if (flaky.mode() !== "good") flaky.setMode("good")
    for (let slot = 0; slot < options.relays; slot++) if (!relays[slot]) await launch(slot)
    const tail = Math.min(10_000, options.minutes * 60_000 * 0.05)
    await sleep(tail)
    sending = false
    await Promise.all(senders)
    log(`sending stopped: ${sent} sent, ${accepted.length} accepted`)

    // Drain: every accepted message delivered (acknowledged) or bounced with an NDR.
    const dsns = (): Array<Dsn> =>
      mailbox.recorder
        .messages()
        .filter((m) => m.mailFrom === "")
        .map((m) => dsnOf(m.body?.toString("latin1") ?? "", m.receivedAt ?? 0))
        .filter((d): d is Dsn => d !== undefined)
    const unsettled = () => {
      const current = judge(accepted, flaky.deliveries, dsns(), faults, DEFER_RETRY)
      return [...current.lost, ...current.unbounced]
    }
    const drainBudget = Math.max(60_000, options.minutes * 60_000 * 0.2)
    let left: ReadonlyArray<string> = []
    try {
      await waitFor("soak: every accepted message settled", () => unsettled().length === 0, {
        timeoutMs: drainBudget,
        intervalMs: 500,
      })
    } catch {
      left = unsettled()
    }
    // Late duplicates (a re-run after the last delivery) would come within a stall interval.
    await sleep(3_000)
    const verdict = judge(accepted, flaky.deliveries, dsns(), faults, DEFER_RETRY)
    const copies = flaky.deliveries.filter((d) => d.mailFrom !== "").length
    const allDsns = dsns()
    const figures: Figures = {
      minutes: options.minutes,
      relays: options.relays,
      sent,
      accepted: accepted.length,
      refused,
      delivered: accepted.filter((a) => a.kind === "deliver").length - verdict.lost.length,
      duplicates:
        Object.values(verdict.duplicatesByCause).reduce((a, b) => a + b, 0) +
        verdict.unexplainedDuplicates.length,
      duplicatesByCause: verdict.duplicatesByCause,
      bounced: accepted.filter((a) => a.kind !== "deliver").length - verdict.unbounced.length,
      dsns: {
        delayed: allDsns.filter((d) => d.action === "delayed").length,
        failed: allDsns.filter((d) => d.action === "failed").length,
      },
      faults: faultCounts,
      relayRestarts: restarts,
      partnerConnections: flaky.connections(),
      partnerCopies: copies,
      droppedFinalReplies: flaky.deliveries.filter((d) => !d.acknowledged).length,
      unacknowledgedSettled: verdict.unacknowledged.length,
      sigtermExitMs: { max: Math.max(0, ...sigtermMs), count: sigtermMs.length },
    }
    console.log(`SOAK-FIGURES ${JSON.stringify({ seed: options.seed, ...figures })}`)
    if (left.length > 0) {
      log(`unsettled: ${left.join(", ")}`)
      // Where each one stopped, from Redis itself (its spool entry, jobs, their states and logs).
      const queueIds = left.flatMap((id) => accepted.find((a) => a.id === id)?.queueId ?? [])
      const server = await redis.current()
      for (const line of await describeUnsettled(server.port, queueIds)) log(`  ${line}`)
      // What every relay generation said of them (none: an attempt that never ended, e.g. one
      // waiting out the 5-minute reply timeout of RFC 5321 on a connection the partner left silent).
      for (const relay of all) {
        const said = relay
          .output()
          .split("\n")
          .filter((line) => queueIds.some((id) => line.includes(id)))
        log(`  ${relay.id}${relays.includes(relay) ? " (running)" : ""}: ${said.length} line(s) about them`)
        for (const line of said.slice(-20)) log(`    ${line.slice(0, 400)}`)
      }
    }
    return { figures, verdict, unsettled: left }
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => undefined)
  }
}

export { SIGTERM_BOUND_MS }
