/**
 * Reads sampling heap profiles (`.heapprofile`, written by `alloc-preload.mjs`) and prints each
 * one's allocated bytes — collected garbage included, which is what the GC's share of the CPU
 * profile pays for — by function (self) and by package, as `profile-summary.ts` does for time.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { ownerOf, sourceOf } from "./profile-summary"
import { report } from "./suite"

interface AllocationNode {
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
    readonly columnNumber: number
  }
  readonly selfSize: number
  readonly children: ReadonlyArray<AllocationNode>
}

interface AllocationProfile {
  readonly head: AllocationNode
}

export const summarizeAllocations = (profile: AllocationProfile, top = 20) => {
  const byFunction = new Map<string, number>()
  const byOwner = new Map<string, number>()
  let total = 0
  const visit = (node: AllocationNode) => {
    if (node.selfSize > 0) {
      total += node.selfSize
      const { functionName } = node.callFrame
      const { file, line } = sourceOf(node.callFrame)
      const key = `${functionName || "(anonymous)"} ${file.split("/").slice(-2).join("/")}:${line}`
      byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize)
      const owner = ownerOf(file, functionName)
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + node.selfSize)
    }
    for (const child of node.children) visit(child)
  }
  visit(profile.head)
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
  return { totalBytes: total, functions: sorted(byFunction), owners: sorted(byOwner) }
}

/** Prints the summary of every allocation profile in `dir`. */
export const printAllocations = (dir: string): void => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".heapprofile"))) {
    const { totalBytes, functions, owners } = summarizeAllocations(
      JSON.parse(readFileSync(join(dir, file), "utf8")),
    )
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
    const share = (bytes: number) => `${((bytes / totalBytes) * 100).toFixed(1)} %`
    console.log(`\n-- allocations ${join(dir, file)} (${mib(totalBytes)} allocated, sampled)`)
    for (const [owner, bytes] of owners.slice(0, 10)) report(`  ${owner}`, `${share(bytes)}  ${mib(bytes)}`)
    console.log("  allocating most (self):")
    for (const [name, bytes] of functions)
      report(`    ${name.slice(0, 70)}`, `${share(bytes)}  ${mib(bytes)}`)
  }
}
