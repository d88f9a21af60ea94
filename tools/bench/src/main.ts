/**
 * `pnpm bench [--profile] [suite…]`: runs every benchmark suite in `suites/` (or the named ones)
 * one after another and prints their figures. Figures are measurements for the closing notes and
 * for side-by-side comparison; nothing here asserts a time limit.
 *
 * `--profile`: every relay process a suite starts writes a V8 CPU profile when it exits
 * (`test-artifacts/profiles/<run>/<suite>/`), and the hottest functions of each are printed.
 * `--heap`: the e2e and deep suites take a heap snapshot of every relay after their run (same
 * directory) and print its largest kinds of objects.
 * `--alloc`: every relay samples its allocations, collected garbage included, and writes them on
 * exit (same directory); the functions that allocate most are printed (`alloc-summary.ts`).
 * `--redis-time`: the e2e suite logs every command its Redis runs (SLOWLOG) and prints the time
 * per command and per script, BullMQ's and ours told apart by their keys (`redis-time.ts`).
 */
import { mkdirSync, readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { printAllocations } from "./alloc-summary"
import { printProfiles } from "./profile-summary"
import type { BenchSuite } from "./suite"

const here = dirname(fileURLToPath(import.meta.url))
const dir = join(here, "suites")
const args = process.argv.slice(2)
const profile = args.includes("--profile")
const heap = args.includes("--heap")
const alloc = args.includes("--alloc")
if (args.includes("--redis-time")) process.env.BENCH_REDIS_TIME = "1"
const wanted = args.filter((a) => !a.startsWith("--"))
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .sort()
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.ts$/, "")))
const profileRoot = join(here, "..", "..", "..", "test-artifacts", "profiles", new Date().toISOString())

for (const file of files) {
  const suite = (await import(join(dir, file))).default as BenchSuite
  console.log(`\n== ${suite.name} (${file})`)
  const profileDir = join(profileRoot, file.replace(/\.ts$/, ""))
  if (profile || heap || alloc) mkdirSync(profileDir, { recursive: true })
  if (profile) process.env.BENCH_CPU_PROFILE_DIR = profileDir
  if (heap) process.env.BENCH_HEAP_SNAPSHOT_DIR = profileDir
  if (alloc) process.env.BENCH_ALLOC_PROFILE_DIR = profileDir
  const started = performance.now()
  await suite.run()
  console.log(`-- ${suite.name}: ${((performance.now() - started) / 1000).toFixed(1)} s`)
  if (profile) printProfiles(profileDir)
  if (alloc) printAllocations(profileDir)
}
