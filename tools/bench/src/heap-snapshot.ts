/**
 * `pnpm bench --heap`: relays start with `--heapsnapshot-signal=SIGUSR2`; a suite asks for a
 * snapshot of each relay after its run (`takeHeapSnapshot`), and the largest kinds of objects in
 * it are printed by their summed self size and count. The snapshots stay on disk for a closer
 * look (Chrome DevTools › Memory › Load: retainers, dominators).
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { waitFor } from "@mailconnect/test-support"
import { report } from "./suite"

/** Where relays write heap snapshots in this run; unset = no snapshots. */
export const heapSnapshotDir = (): string | undefined => process.env.BENCH_HEAP_SNAPSHOT_DIR

/** Signals the relay and waits until its snapshot is written (its size stops changing). */
export const takeHeapSnapshot = async (pid: number): Promise<string | undefined> => {
  const dir = heapSnapshotDir()
  if (dir === undefined) return undefined
  const mine = () => readdirSync(dir).filter((f) => f.endsWith(".heapsnapshot") && f.includes(`.${pid}.`))
  const before = new Set(mine())
  process.kill(pid, "SIGUSR2")
  const file = await waitFor("a heap snapshot", () => mine().find((f) => !before.has(f)), 300_000)
  const path = join(dir, file)
  let size = -1
  await waitFor(
    "the heap snapshot complete",
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      const now = statSync(path).size
      const done = now === size && now > 0
      size = now
      return done ? true : undefined
    },
    300_000,
  )
  return path
}

interface HeapSnapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: ReadonlyArray<string>
      readonly node_types: ReadonlyArray<unknown>
    }
  }
  readonly nodes: ReadonlyArray<number>
  readonly strings: ReadonlyArray<string>
}

/** Summed self size and count per (node type, name) — constructor names for objects. */
export const summarizeHeap = (path: string, top = 20) => {
  const heap = JSON.parse(readFileSync(path, "utf8")) as HeapSnapshot
  const fields = heap.snapshot.meta.node_fields
  const types = heap.snapshot.meta.node_types[0] as ReadonlyArray<string>
  const width = fields.length
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ]
  const groups = new Map<string, { size: number; count: number }>()
  let total = 0
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!
    // Strings are grouped as one kind: their text would make every one its own group.
    const name =
      type === "string" || type === "concatenated string" || type === "sliced string"
        ? ""
        : heap.strings[heap.nodes[i + nameAt]!]!
    const key = `${type} ${name.slice(0, 60)}`
    const size = heap.nodes[i + sizeAt]!
    total += size
    const group = groups.get(key) ?? { size: 0, count: 0 }
    group.size += size
    group.count += 1
    groups.set(key, group)
  }
  return { totalBytes: total, groups: [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, top) }
}

export const printHeapSnapshot = (label: string, path: string): void => {
  const { totalBytes, groups } = summarizeHeap(path)
  console.log(
    `\n-- heap snapshot of ${label}: ${path} (${(totalBytes / 1024 / 1024).toFixed(1)} MiB of objects)`,
  )
  for (const [key, { size, count }] of groups)
    report(`  ${key}`, `${(size / 1024 / 1024).toFixed(1)} MiB in ${count}`)
}
