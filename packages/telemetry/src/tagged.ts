/**
 * Tagged metrics kept once per label set. `Metric.tagged` builds a new metric key (a hash set of
 * tags, hashed and compared on every update) at each call; on the per-message path — a handful of
 * counters per message — that was ~2 % of a relay's CPU. `taggedBy(counter, "partner", "result")`
 * returns a function of the label values that hands out the same tagged metric for the same
 * values. The cache holds no more than Effect's metric registry already does: one entry per label
 * set ever updated (labels are bounded: partners, results, failure codes, listeners).
 */
import { Metric } from "effect"

export const taggedBy = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  ...names: ReadonlyArray<string>
): ((...values: ReadonlyArray<string>) => Metric.Metric<Type, In, Out>) => {
  const cache = new Map<string, Metric.Metric<Type, In, Out>>()
  return (...values) => {
    const key = values.join("\u0000")
    let tagged = cache.get(key)
    if (tagged === undefined) {
      tagged = names.reduce((m, name, i) => Metric.tagged(m, name, values[i] ?? ""), metric)
      cache.set(key, tagged)
    }
    return tagged
  }
}
