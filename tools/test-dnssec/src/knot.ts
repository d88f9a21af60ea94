/**
 * The lab's authoritative server: knotd (one process) on a loopback port, serving the lab root
 * and every lab zone from the pre-signed zone files in the lab directory, as they are: knot
 * neither signs nor validates them (so it serves a bogus zone's expired signatures too).
 */
import { execFile } from "node:child_process"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { promisify } from "node:util"
import { type Daemon, requireCommand, startDaemon } from "./daemon"
import { probe, soaSerial } from "./probe"
import { absolute } from "./zone-file"

const run = promisify(execFile)

export interface ServedZone {
  readonly name: string
  /** File name inside the lab directory. */
  readonly file: string
}

const quote = (value: string) => JSON.stringify(value)

export const knotConfig = (
  dir: string,
  host: string,
  port: number,
  zones: ReadonlyArray<ServedZone>,
): string =>
  [
    "server:",
    `    listen: ${host}@${port}`,
    `    rundir: ${quote(join(dir, "knot"))}`,
    `    pidfile: ${quote(join(dir, "knot", "knot.pid"))}`,
    "    udp-workers: 1",
    "    tcp-workers: 1",
    "    background-workers: 1",
    "log:",
    "  - target: stderr",
    "    any: info",
    "database:",
    `    storage: ${quote(join(dir, "knot"))}`,
    "control:",
    `    listen: ${quote(join(dir, "knot", "knot.sock"))}`,
    "template:",
    "  - id: default",
    `    storage: ${quote(dir)}`,
    // Serve the files as written: never write them back, keep no journal, no signing.
    "    zonefile-sync: -1",
    "    zonefile-load: whole",
    "    journal-content: none",
    "zone:",
    ...zones.flatMap((z) => [`  - domain: ${quote(absolute(z.name))}`, `    file: ${quote(z.file)}`]),
    "",
  ].join("\n")

export interface Knot {
  readonly daemon: Daemon
  /** Re-reads the zone files (knotc zone-reload), then waits until every zone answers with `serial`. */
  readonly reload: (serial: number) => Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const servesSerial = async (host: string, port: number, zones: ReadonlyArray<ServedZone>, serial: number) => {
  for (const zone of zones) {
    if (soaSerial(await probe(host, port, absolute(zone.name), "SOA")) !== serial) return false
  }
  return true
}

export const startKnot = async (
  dir: string,
  host: string,
  port: number,
  zones: ReadonlyArray<ServedZone>,
  serial: number,
): Promise<Knot> => {
  const config = join(dir, "knot.conf")
  await mkdir(join(dir, "knot"), { recursive: true })
  await writeFile(config, knotConfig(dir, host, port, zones))
  const daemon = await startDaemon("knotd", ["-c", config], "knot")
  const waitFor = async (what: string, wanted: number) => {
    for (let i = 0; i < 250; i++) {
      if (!daemon.running()) throw new Error(`knotd exited: ${daemon.output()}`)
      if (await servesSerial(host, port, zones, wanted)) return
      await sleep(20)
    }
    throw new Error(`knotd on ${host}:${port} did not serve serial ${wanted} (${what}): ${daemon.output()}`)
  }
  try {
    await waitFor("start", serial)
  } catch (e) {
    await daemon.stop()
    throw e
  }
  return {
    daemon,
    reload: async (next) => {
      await run(requireCommand("knotc", "knot"), ["-c", config, "-b", "zone-reload"])
      await waitFor("reload", next)
    },
  }
}
