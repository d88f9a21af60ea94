/**
 * The lab's validating resolver: unbound on a loopback port whose only trust anchor is the lab
 * root's KSK and whose root is a stub to the lab's knotd — it never asks anything outside the lab.
 */
import { execFile } from "node:child_process"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { promisify } from "node:util"
import { type Daemon, requireCommand, startDaemon } from "./daemon"
import { probe } from "./probe"

const run = promisify(execFile)
const quote = (value: string) => JSON.stringify(value)

export interface UnboundOptions {
  readonly dir: string
  readonly host: string
  readonly port: number
  /** The lab root's DS, e.g. `. IN DS 12345 13 2 ab…`. */
  readonly trustAnchor: string
  readonly authoritative: { readonly host: string; readonly port: number }
}

export const unboundConfig = (o: UnboundOptions): string =>
  [
    "server:",
    "  verbosity: 1",
    `  interface: ${o.host}`,
    `  port: ${o.port}`,
    `  do-ip6: ${o.host.includes(":") || o.authoritative.host.includes(":") ? "yes" : "no"}`,
    "  interface-automatic: no",
    "  so-reuseport: no",
    "  num-threads: 1",
    '  username: ""',
    '  chroot: ""',
    `  directory: ${quote(o.dir)}`,
    '  pidfile: ""',
    "  use-syslog: no",
    '  logfile: ""',
    "  do-daemonize: no",
    "  do-not-query-localhost: no",
    "  access-control: 127.0.0.0/8 allow",
    "  access-control: ::1/128 allow",
    '  module-config: "validator iterator"',
    `  trust-anchor: ${quote(o.trustAnchor)}`,
    // Why a validation failed, in the log; the reason also goes to clients as an EDE (RFC 8914).
    "  val-log-level: 2",
    "  ede: yes",
    // Tests change records: keep nothing long (the lab also flushes the cache on a change).
    "  cache-max-ttl: 5",
    "  cache-max-negative-ttl: 1",
    "  infra-host-ttl: 5",
    "remote-control:",
    "  control-enable: yes",
    `  control-interface: ${quote(join(o.dir, "unbound.ctl"))}`,
    "  control-use-cert: no",
    "stub-zone:",
    '  name: "."',
    `  stub-addr: ${o.authoritative.host}@${o.authoritative.port}`,
    "",
  ].join("\n")

export interface Unbound {
  readonly daemon: Daemon
  /** Drops every cached RRset, message and key (after the zones changed). */
  readonly flush: () => Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const startUnbound = async (options: UnboundOptions): Promise<Unbound> => {
  const config = join(options.dir, "unbound.conf")
  await writeFile(config, unboundConfig(options))
  const daemon = await startDaemon("unbound", ["-d", "-c", config], "unbound")
  try {
    let answer: Awaited<ReturnType<typeof probe>>
    for (let i = 0; ; i++) {
      if (!daemon.running()) throw new Error(`unbound exited: ${daemon.output()}`)
      answer = await probe(options.host, options.port, ".", "DNSKEY")
      if (answer !== undefined || i >= 200) break
      await sleep(20)
    }
    if (!answer?.authenticated)
      throw new Error(
        `unbound on ${options.host}:${options.port} does not validate the lab root (${answer ? `rcode ${answer.rcode}` : "no answer"}): ${daemon.output()}`,
      )
  } catch (e) {
    await daemon.stop()
    throw e
  }
  return {
    daemon,
    flush: async () => {
      const control = requireCommand("unbound-control", "unbound")
      for (const command of [["flush_zone", "."], ["flush_bogus"], ["flush_negative"]])
        await run(control, ["-c", config, ...command])
    },
  }
}
