export interface BenchSuite {
  readonly name: string
  /** Prints its figures with `report`; throws only if the measured system itself failed. */
  readonly run: () => Promise<void>
}

/** One figure per line, aligned, so runs can be compared side by side. */
export const report = (label: string, value: number | string, unit = ""): void => {
  const shown =
    typeof value === "number" ? (Number.isInteger(value) ? String(value) : value.toFixed(3)) : value
  console.log(`${label.padEnd(48)} ${shown}${unit ? ` ${unit}` : ""}`)
}

/** Percentile of already collected samples (nearest-rank). */
export const percentile = (samples: ReadonlyArray<number>, p: number): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}
