/**
 * Policy distribution latency: time from `publishBundle` (the same call `mailconnect policy
 * publish` makes) until all three relay processes report the new serial in their heartbeats
 * (written on activation). Relays poll every second as well, so a lost notice shows up as a
 * ~1 s outlier rather than a hang.
 */
import { loadavg } from "node:os"
import { FleetRegistry } from "@mailconnect/fleet"
import { PolicyStore, publishBundle } from "@mailconnect/policy-store"
import { eventually, type RelayProcess, signed, startLab, startRelay } from "@mailconnect/test-support"
import { Effect } from "effect"
import { type BenchSuite, percentile, report } from "../suite"

const PUBLISHES = 100
const WARMUP = 3

const suite: BenchSuite = {
  name: "distribution: publish → 3 relays active",
  run: async () => {
    const lab = await startLab()
    const relays: Array<RelayProcess> = []
    try {
      relays.push(...(await Promise.all(["bench-a", "bench-b", "bench-c"].map((id) => startRelay(lab, id)))))
      await eventually(async () => (await lab.heartbeats()).length === 3, "three heartbeats")
      const bundles = Array.from({ length: PUBLISHES + WARMUP }, (_, i) => signed(lab.signer, i + 1))
      const converge: Array<number> = []
      const publishRoundTrip: Array<number> = []
      await lab.withRedis(
        Effect.gen(function* () {
          const fleet = yield* FleetRegistry
          for (const [i, bytes] of bundles.entries()) {
            const serial = i + 1
            const started = performance.now()
            yield* publishBundle({ bytes, trusted: [lab.signer.trusted], readers: [], force: false })
            const published = performance.now()
            for (;;) {
              const { relays: live } = yield* fleet.live
              if (live.length === 3 && live.every((r) => r.bundle?.serial === serial)) break
              yield* Effect.sleep("1 millis")
            }
            if (i >= WARMUP) {
              converge.push(performance.now() - started)
              publishRoundTrip.push(published - started)
            }
          }
        }).pipe(Effect.provide(PolicyStore.layer)),
      )
      report("publishes measured", converge.length)
      report("publish call (verify + Lua swap) p50", percentile(publishRoundTrip, 50), "ms")
      report("publish → all 3 relays active p50", percentile(converge, 50), "ms")
      report("publish → all 3 relays active p99", percentile(converge, 99), "ms")
      report("publish → all 3 relays active max", Math.max(...converge), "ms")
      const finalSerials = await Promise.all(
        relays.map(async (r) => (await r.metrics()).get("mc_policy_active_serial")),
      )
      report("relays' final active serial", finalSerials.join(","))
      // Outliers track CPU contention: three relays, the bench and Redis share this host.
      report("host load average (1 min)", loadavg()[0]!)
    } finally {
      await Promise.all(relays.map((r) => r.stop("SIGTERM")))
      await lab.stop()
    }
  },
}

export default suite
