/**
 * A real DNSSEC lab on loopback: knotd serving a signed lab root and the test's zones, and a
 * validating unbound whose only trust anchor is the lab root's KSK, generated at start.
 *
 * How each kind of zone is modelled — as on the Internet, by the chain of trust from the root:
 * - `signed`: the zone is signed (KSK + ZSK, NSEC) and the lab root holds its DS. Answers,
 *   NXDOMAIN and NODATA alike, validate: unbound sets AD.
 * - `unsigned`: an insecure delegation (RFC 4035 §5.2). The zone is not signed and the signed
 *   root delegates to it without a DS, so the root's NSEC proves there is none: unbound treats
 *   the zone as provably insecure (NOERROR/NXDOMAIN without AD), not as bogus. No
 *   `domain-insecure:` switch — the resolver works it out as it would for any unsigned domain.
 * - `bogus`: the zone is signed and its DS is in the root, but every signature expired a week
 *   ago (a signer that stopped re-signing, a common way zones go bogus in practice). Every answer
 *   from it, its DNSKEY RRset included, fails validation: unbound answers SERVFAIL with the
 *   extended error "Signature Expired".
 * A lab zone inside another lab zone is delegated from that one instead of from the root.
 *
 * The root is a stub to knotd, so unbound never asks anything outside the lab; both servers listen
 * on a free loopback port (UDP and TCP), run in their own process groups and are stopped by
 * `stop()` — or, should the test process end without it, by an exit hook or, if it crashed, by
 * the kernel (parent-death signal; see daemon.ts).
 */
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { removeAtExit } from "./daemon"
import { type Knot, type ServedZone, startKnot } from "./knot"
import { freeDnsPort } from "./ports"
import { currentValidity, expiredValidity, generateKeys, signZone, type ZoneKeys } from "./signer"
import { startUnbound, type Unbound } from "./unbound"
import {
  checkZoneName,
  type Delegation,
  LAB_NAME_SERVER,
  type LabZone,
  parentOf,
  renderZone,
} from "./zone-file"

export interface DnssecLabOptions {
  readonly zones: ReadonlyArray<LabZone>
}

export interface LabEndpoint {
  readonly host: string
  readonly port: number
  /** `host:port`, as `RELAY_DNS_SERVERS` and `SecureDns.layer` take it. */
  readonly server: string
}

export interface DnssecLab {
  /** The validating resolver (AD set on validated answers): the one a client under test asks. */
  readonly resolver: LabEndpoint
  /** knotd, serving the lab root and every zone (no recursion, no validation). */
  readonly authoritative: LabEndpoint
  /** The lab root's DS, unbound's only trust anchor. */
  readonly trustAnchor: string
  /** The lab's temporary directory (configs, keys, zone files); removed by `stop()`. */
  readonly dir: string
  readonly zones: () => ReadonlyArray<LabZone>
  /**
   * Replaces an existing zone (records and/or signing), re-signs every zone under a new serial,
   * reloads knotd, waits until it serves the new serial and flushes unbound's cache.
   */
  readonly setZone: (zone: LabZone) => Promise<void>
  /** The tail of knotd's and unbound's output (validation failures at `val-log-level: 2`). */
  readonly logs: () => { readonly authoritative: string; readonly resolver: string }
  readonly stop: () => Promise<void>
}

const HOST = "127.0.0.1"
const ROOT = ""

const endpoint = (host: string, port: number): LabEndpoint => ({ host, port, server: `${host}:${port}` })

const fileOf = (zone: string) => (zone === ROOT ? "root" : zone)

interface LabState {
  readonly dir: string
  readonly zones: Map<string, LabZone>
  readonly keys: Map<string, ZoneKeys>
  serial: number
}

const keysFor = async (state: LabState, zone: string): Promise<ZoneKeys> => {
  const existing = state.keys.get(zone)
  if (existing) return existing
  const keys = await generateKeys(state.dir, zone)
  state.keys.set(zone, keys)
  return keys
}

/** Like Promise.all, but settles every promise before failing: no write still running after a failure. */
const allSettled = async <A>(promises: ReadonlyArray<Promise<A>>): Promise<ReadonlyArray<A>> => {
  const results = await Promise.allSettled(promises)
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected")
  if (failed) throw failed.reason
  return results.map((r) => (r as PromiseFulfilledResult<A>).value)
}

/** Renders and signs every zone file under `state.serial`; returns the zones for knotd. */
const writeZones = async (state: LabState): Promise<ReadonlyArray<ServedZone>> => {
  const names = [ROOT, ...state.zones.keys()]
  const signingOf = (name: string) => state.zones.get(name)?.signing ?? "signed"
  // Keys first: a parent zone carries its children's DS.
  await allSettled(names.filter((n) => signingOf(n) !== "unsigned").map((n) => keysFor(state, n)))
  // Every text before any file: a record that does not render fails here, having written nothing.
  const texts = names.map((name) =>
    renderZone({
      name,
      serial: state.serial,
      records: state.zones.get(name)?.records ?? [],
      delegations: names
        .filter((n) => n !== ROOT && parentOf(n, names) === name)
        .map(
          (child): Delegation => ({
            child,
            ds: signingOf(child) === "unsigned" ? [] : [state.keys.get(child)!.ds],
          }),
        ),
      ...(name === ROOT ? { extra: [`${LAB_NAME_SERVER} IN A ${HOST}`] } : {}),
    }),
  )
  // A fresh, strictly later mtime each time: knot reloads only the files whose mtime changed.
  const mtime = Math.floor(Date.now() / 1000) + state.serial
  return allSettled(
    names.map(async (name, i): Promise<ServedZone> => {
      const source = `${fileOf(name)}.zone`
      const served = `${fileOf(name)}.served`
      await writeFile(join(state.dir, source), texts[i]!)
      const signing = signingOf(name)
      if (signing === "unsigned") await writeFile(join(state.dir, served), texts[i]!)
      else {
        const validity = signing === "bogus" ? expiredValidity() : currentValidity()
        await signZone(state.dir, name, source, served, state.keys.get(name)!, validity)
      }
      await utimes(join(state.dir, served), mtime, mtime)
      return { name, file: served }
    }),
  )
}

/** Binding a free port can still race another process: try a few. */
const onFreePort = async <A>(start: (port: number) => Promise<A>): Promise<{ port: number; value: A }> => {
  for (let attempt = 0; ; attempt++) {
    const port = await freeDnsPort(HOST)
    try {
      return { port, value: await start(port) }
    } catch (e) {
      if (attempt >= 2) throw e
    }
  }
}

const checkZones = (zones: ReadonlyArray<LabZone>): Map<string, LabZone> => {
  const byName = new Map<string, LabZone>()
  for (const zone of zones) {
    const name = checkZoneName(zone.name)
    if (byName.has(name)) throw new Error(`zone ${zone.name} given twice`)
    byName.set(name, { ...zone, name })
  }
  return byName
}

export const startDnssecLab = async (options: DnssecLabOptions): Promise<DnssecLab> => {
  const zones = checkZones(options.zones)
  const dir = await mkdtemp(join(tmpdir(), "mc-dnssec-"))
  const cleanup = removeAtExit(dir)
  const state: LabState = { dir, zones, keys: new Map(), serial: 1 }
  let knot: Knot | undefined
  let unbound: Unbound | undefined
  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= (async () => {
      await Promise.all([unbound?.daemon.stop(), knot?.daemon.stop()])
      await rm(dir, { recursive: true, force: true })
      cleanup.release()
    })()
    return stopped
  }
  try {
    const served = await writeZones(state)
    const started = await onFreePort((port) => startKnot(dir, HOST, port, served, state.serial))
    knot = started.value
    const authoritative = endpoint(HOST, started.port)
    const trustAnchor = state.keys.get(ROOT)!.ds
    const resolverStart = await onFreePort((port) =>
      startUnbound({ dir, host: HOST, port, trustAnchor, authoritative }),
    )
    unbound = resolverStart.value
    const running = { knot, unbound }
    // One change at a time: each re-signs every zone under the next serial.
    let changes: Promise<void> = Promise.resolve()
    const change = async (zone: LabZone) => {
      const name = checkZoneName(zone.name)
      if (!state.zones.has(name))
        throw new Error(`setZone: ${zone.name} is not a lab zone (zones are fixed at start)`)
      const previous = state.zones.get(name)!
      state.zones.set(name, { ...zone, name })
      state.serial += 1
      try {
        await writeZones(state)
      } catch (e) {
        // Nothing reloaded: the servers still serve the previous zone, and so does the next change.
        state.zones.set(name, previous)
        throw e
      }
      await running.knot.reload(state.serial)
      await running.unbound.flush()
    }
    return {
      resolver: endpoint(HOST, resolverStart.port),
      authoritative,
      trustAnchor,
      dir,
      zones: () => [...state.zones.values()],
      setZone: (zone) => {
        const next = changes.then(() => change(zone))
        changes = next.catch(() => {})
        return next
      },
      logs: () => ({
        authoritative: running.knot.daemon.output(),
        resolver: running.unbound.daemon.output(),
      }),
      stop,
    }
  } catch (e) {
    await stop()
    throw e
  }
}
