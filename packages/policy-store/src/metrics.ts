/** Hot-load metrics (Effect `Metric`; `@mailconnect/telemetry` renders them for Prometheus). */
import { Metric } from "effect"

export const activeSerial = Metric.gauge("mc_policy_active_serial", {
  description: "Serial of the policy bundle in force (0: none)",
})

export const activations = Metric.counter("mc_policy_activations_total", {
  description: "Bundles activated, by origin (redis, last-known-good)",
  incremental: true,
})

export const rejects = Metric.counter("mc_policy_rejects_total", {
  description: "Bundles refused, by reason (the refusal's error tag) and origin",
  incremental: true,
})

export const fetchFailures = Metric.counter("mc_policy_fetch_failures_total", {
  description: "Reads of the current bundle from Redis that failed (Redis unavailable or erroring)",
  incremental: true,
})

export const lastKnownGoodWriteFailures = Metric.counter("mc_policy_last_known_good_write_failures_total", {
  description: "Failed writes of the last-known-good copy to local disk",
  incremental: true,
})
