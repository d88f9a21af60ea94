/**
 * Durations as operators write them in policy files: `30s`, `5m`, `4h`, `10d`, `1y`
 * (a year is 365 days; calendar arithmetic has no place in a retry timeline).
 * Internally every duration is an integer number of milliseconds.
 */
const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
} as const

export type DurationUnit = keyof typeof UNIT_MS

const DURATION = /^(\d+)(ms|s|m|h|d|w|y)$/

/** Parses `5m` → 300000. Returns undefined for anything else (no fractions, no compound forms). */
export const parseDuration = (text: string): number | undefined => {
  const match = DURATION.exec(text.trim())
  if (!match) return undefined
  const value = Number(match[1])
  const unit = match[2] as DurationUnit
  const ms = value * UNIT_MS[unit]
  return Number.isSafeInteger(ms) ? ms : undefined
}

const LARGEST_FIRST: ReadonlyArray<DurationUnit> = ["y", "w", "d", "h", "m", "s", "ms"]

/** Formats milliseconds with the largest unit that divides them exactly: 300000 → `5m`. */
export const formatDuration = (ms: number): string => {
  if (ms === 0) return "0s"
  for (const unit of LARGEST_FIRST) {
    if (unit === "w") continue
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`
  }
  return `${ms}ms`
}
