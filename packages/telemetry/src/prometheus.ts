/**
 * Prometheus text exposition (format 0.0.4) of Effect's metric registry. Packages record with
 * `effect/Metric` and need no exporter dependency; an app serves `renderPrometheus` on /metrics.
 * Counters, gauges, histograms, summaries and frequencies are rendered; names are used as given.
 */
import { Effect, Metric, MetricState, Option } from "effect"
import type * as MetricPair from "effect/MetricPair"
import { recordProcessMemory } from "./process-memory"

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const sanitizeName = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_")

const labels = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${sanitizeName(k)}="${escapeLabel(v)}"`).join(",")}}`

const num = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string
  lines: Array<string>
}

const addPair = (families: Map<string, Family>, pair: MetricPair.MetricPair.Untyped): void => {
  const name = sanitizeName(pair.metricKey.name)
  // Sorted by label name so a series always reads the same, whatever order tags were added in.
  const tags = pair.metricKey.tags
    .map((t) => [t.key, t.value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const state = pair.metricState
  const help = Option.getOrElse(pair.metricKey.description, () => "")
  const family = (type: Family["type"]) => {
    const existing = families.get(name)
    if (existing) return existing
    const created: Family = { type, help, lines: [] }
    families.set(name, created)
    return created
  }
  if (MetricState.isCounterState(state)) {
    family("counter").lines.push(`${name}${labels(tags)} ${num(state.count)}`)
  } else if (MetricState.isGaugeState(state)) {
    family("gauge").lines.push(`${name}${labels(tags)} ${num(state.value)}`)
  } else if (MetricState.isHistogramState(state)) {
    const f = family("histogram")
    for (const [bound, count] of state.buckets) {
      const le = Number.isFinite(bound) ? num(bound) : "+Inf"
      f.lines.push(`${name}_bucket${labels([...tags, ["le", le]])} ${num(count)}`)
    }
    f.lines.push(
      `${name}_sum${labels(tags)} ${num(state.sum)}`,
      `${name}_count${labels(tags)} ${num(state.count)}`,
    )
  } else if (MetricState.isSummaryState(state)) {
    const f = family("summary")
    for (const [quantile, value] of state.quantiles) {
      f.lines.push(
        `${name}${labels([...tags, ["quantile", num(quantile)]])} ${Option.match(value, { onNone: () => "NaN", onSome: num })}`,
      )
    }
    f.lines.push(
      `${name}_sum${labels(tags)} ${num(state.sum)}`,
      `${name}_count${labels(tags)} ${num(state.count)}`,
    )
  } else if (MetricState.isFrequencyState(state)) {
    const f = family("counter")
    for (const [key, count] of state.occurrences)
      f.lines.push(`${name}${labels([...tags, ["key", key]])} ${count}`)
  }
}

export const renderPrometheusText = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  for (const pair of pairs) addPair(families, pair)
  const out: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const f = families.get(name)!
    if (f.help) out.push(`# HELP ${name} ${escapeHelp(f.help)}`)
    // Histogram and summary lines keep bucket order; plain series are sorted for stable output.
    const lines = f.type === "counter" || f.type === "gauge" ? [...f.lines].sort() : f.lines
    out.push(`# TYPE ${name} ${f.type}`, ...lines)
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}

/** Snapshot of every metric recorded in this process, as Prometheus text (memory read just before). */
export const renderPrometheus: Effect.Effect<string> = Effect.zipRight(
  recordProcessMemory,
  Effect.map(Metric.snapshot, renderPrometheusText),
)

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

/** Parses exposition text back into `name{labels} → value` (for tests, benches and the CLI). */
export const parsePrometheusText = (text: string): ReadonlyMap<string, number> => {
  const values = new Map<string, number>()
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const space = line.lastIndexOf(" ")
    values.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return values
}
