/**
 * Reads V8 CPU profiles (`--cpu-prof` output, `.cpuprofile` JSON) and prints each one's hottest
 * functions by self time, plus the share per package (effect, bullmq, ioredis, smtp-server, node
 * internals, our code). Used by `pnpm bench --profile`; the profiles stay on disk for a closer
 * look in Chrome DevTools or speedscope.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { SourceMap } from "node:module"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { report } from "./suite"

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
    readonly columnNumber: number
  }
  readonly hitCount?: number
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** Source maps of the esbuild bundles the relay and CLI run from, by script URL. */
const maps = new Map<string, SourceMap | undefined>()
const mapOf = (url: string): SourceMap | undefined => {
  if (!maps.has(url)) {
    const path = url.startsWith("file:") ? fileURLToPath(url) : url
    maps.set(
      url,
      existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, "utf8"))) : undefined,
    )
  }
  return maps.get(url)
}

/** The original source file and line of a frame (through the bundle's source map when there is one). */
export const sourceOf = (frame: ProfileNode["callFrame"]): { file: string; line: number } => {
  const entry = mapOf(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber)
  return entry && "originalSource" in entry && entry.originalSource
    ? { file: entry.originalSource, line: entry.originalLine + 1 }
    : { file: frame.url, line: frame.lineNumber + 1 }
}

/** Which part of the program a source file belongs to: a dependency, node, or one of our packages. */
export const ownerOf = (file: string, functionName: string): string => {
  if (file === "") return functionName.startsWith("(") ? functionName : "(native)"
  if (file.startsWith("node:")) return "node"
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(file)
  if (pkg) return pkg[1]!
  const ours = /(?:packages|apps|tools)\/([^/]+)\//.exec(file)
  return ours ? `mailconnect/${ours[1]}` : "mailconnect"
}

/** Self time per node id, from the sample stream (µs). */
const selfTimes = (profile: CpuProfile): Map<number, number> => {
  const times = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    times.set(id, (times.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  return times
}

export const summarize = (profile: CpuProfile, top = 15) => {
  const self = selfTimes(profile)
  const byFunction = new Map<string, number>()
  const byOwner = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0
    if (us === 0) continue
    const { functionName } = node.callFrame
    if (functionName === "(idle)") continue
    total += us
    const { file, line } = sourceOf(node.callFrame)
    const key = `${functionName || "(anonymous)"} ${file.split("/").slice(-2).join("/")}:${line}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
    const owner = ownerOf(file, functionName)
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us)
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
  return { totalMs: total / 1000, functions: sorted(byFunction), owners: sorted(byOwner) }
}

/** Prints the summary of every profile in `dir`. */
export const printProfiles = (dir: string): void => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))
  for (const file of files) {
    const { totalMs, functions, owners } = summarize(JSON.parse(readFileSync(join(dir, file), "utf8")))
    console.log(`\n-- CPU profile ${join(dir, file)} (busy ${totalMs.toFixed(0)} ms)`)
    for (const [owner, us] of owners.slice(0, 10))
      report(`  ${owner}`, `${((us / 1000 / totalMs) * 100).toFixed(1)} %`)
    console.log("  hottest functions (self time):")
    for (const [name, us] of functions)
      report(`    ${name.slice(0, 70)}`, `${((us / 1000 / totalMs) * 100).toFixed(1)} %`)
  }
}
