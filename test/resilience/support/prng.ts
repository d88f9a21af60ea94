import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/** A seeded PRNG (mulberry32): fuzz runs are reproducible from the seed they print. */
export const prng = (seed: number) => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (max: number) => Math.floor(next() * max)
  return {
    next,
    int,
    pick: <A>(items: ReadonlyArray<A>): A => items[int(items.length)]!,
    chance: (p: number) => next() < p,
  }
}

export type Prng = ReturnType<typeof prng>

/** The seed: `MC_FUZZ_SEED` to replay a run, otherwise fresh and printed. */
export const fuzzSeed = (): number =>
  process.env.MC_FUZZ_SEED ? Number(process.env.MC_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31)

/** A real `gc()` without `--expose-gc` on the command line, so heap figures mean something. */
export const forceGc = (): (() => void) => {
  setFlagsFromString("--expose_gc")
  return runInNewContext("gc") as () => void
}
