/**
 * The process's memory, read at each scrape: resident set, V8 heap (used and reserved), and memory
 * outside the heap (Buffers of message bodies and TLS records count there). Named as the
 * Prometheus Node.js client names them, so existing dashboards read them. An RSS far above heap +
 * external is memory the allocator holds but the program no longer uses.
 */
import { Effect, Metric } from "effect"

const gauge = (name: string, description: string) => Metric.gauge(name, { description })

const resident = gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
const heapTotal = gauge("nodejs_heap_size_total_bytes", "V8 heap reserved, in bytes.")
const heapUsed = gauge("nodejs_heap_size_used_bytes", "V8 heap in use, in bytes.")
const external = gauge(
  "nodejs_external_memory_bytes",
  "Memory of C++ objects bound to JavaScript (Buffers included), in bytes.",
)
const arrayBuffers = gauge(
  "nodejs_array_buffers_bytes",
  "Memory of ArrayBuffers and Buffers, in bytes (part of external).",
)

/** Sets the gauges from `process.memoryUsage()`. */
export const recordProcessMemory: Effect.Effect<void> = Effect.suspend(() => {
  const usage = process.memoryUsage()
  return Effect.all(
    [
      Metric.set(resident, usage.rss),
      Metric.set(heapTotal, usage.heapTotal),
      Metric.set(heapUsed, usage.heapUsed),
      Metric.set(external, usage.external),
      Metric.set(arrayBuffers, usage.arrayBuffers),
    ],
    { discard: true },
  )
})
