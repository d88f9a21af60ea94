import { Effect, Metric, MetricBoundaries } from "effect"
import { describe, expect, it } from "vitest"
import { parsePrometheusText, renderPrometheus } from "../src"

describe("prometheus rendering", () => {
  it("renders counters with labels, gauges and histograms", async () => {
    const requests = Metric.counter("test_render_requests_total", { description: "requests\nserved" })
    const serial = Metric.gauge("test_render_serial")
    const latency = Metric.histogram("test_render_latency_ms", MetricBoundaries.fromIterable([10, 100]))
    const text = await Effect.runPromise(
      Effect.gen(function* () {
        yield* Metric.increment(Metric.tagged(requests, "reason", 'say "hi"'))
        yield* Metric.increment(Metric.tagged(requests, "reason", 'say "hi"'))
        yield* Metric.set(serial, 42)
        yield* Metric.update(latency, 50)
        return yield* renderPrometheus
      }),
    )
    expect(text).toContain("# HELP test_render_requests_total requests\\nserved")
    expect(text).toContain("# TYPE test_render_requests_total counter")
    expect(text).toContain('test_render_requests_total{reason="say \\"hi\\""} 2')
    expect(text).toContain("# TYPE test_render_latency_ms histogram")
    const parsed = parsePrometheusText(text)
    expect(parsed.get("test_render_serial")).toBe(42)
    expect(parsed.get('test_render_latency_ms_bucket{le="100"}')).toBe(1)
    expect(parsed.get('test_render_latency_ms_bucket{le="10"}')).toBe(0)
    expect(parsed.get("test_render_latency_ms_count")).toBe(1)
  })

  it("reports the process's memory at each scrape: resident, heap and outside the heap", async () => {
    const first = parsePrometheusText(await Effect.runPromise(renderPrometheus))
    const rss = first.get("process_resident_memory_bytes")!
    const heapUsed = first.get("nodejs_heap_size_used_bytes")!
    expect(rss).toBeGreaterThan(heapUsed)
    expect(heapUsed).toBeGreaterThan(0)
    expect(first.get("nodejs_heap_size_total_bytes")!).toBeGreaterThanOrEqual(heapUsed)
    expect(first.get("nodejs_external_memory_bytes")!).toBeGreaterThanOrEqual(
      first.get("nodejs_array_buffers_bytes")!,
    )
    // Read anew at each scrape, not once: 64 MiB held outside the heap shows in the next one.
    const held = Buffer.alloc(64 * 1024 * 1024, 1)
    const second = parsePrometheusText(await Effect.runPromise(renderPrometheus))
    expect(
      second.get("nodejs_array_buffers_bytes")! - first.get("nodejs_array_buffers_bytes")!,
    ).toBeGreaterThanOrEqual(held.length)
  })
})
