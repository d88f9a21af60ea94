/**
 * The certificate and attestation watch as Prometheus gauges, sampled every RELAY_WATCH_INTERVAL
 * (seconds, default 60) from the fleet's certificate watch in Redis and the active bundle
 * (`@mailconnect/delivery-queue › partnerWatch`):
 *
 * - `partner_certificate_expiry_seconds{partner,server}`: seconds until the certificate the
 *   server presented last expires (negative once expired);
 * - `partner_certificate_changed_timestamp_seconds{partner,server,change}`: when it last changed,
 *   `change` = renewed-same-key | new-key | new-issuer (`none` and the first sighting before any);
 * - `partner_review_due_seconds{partner}`: seconds until the partner's attestation is due.
 *
 * Every relay exports the same fleet-wide figures (alert on `min by (partner, server)`); the
 * alert rules are deploy/prometheus/mailconnect-alerts.yml. A failed sample keeps the last values.
 */
import { DeliveryStats, partnerWatch } from "@mailconnect/delivery-queue"
import { ActivePolicy } from "@mailconnect/policy-store"
import { Clock, Config, Duration, Effect, Layer, Metric, Option, Schedule } from "effect"

const expiry = Metric.gauge("partner_certificate_expiry_seconds", {
  description: "Seconds until the certificate a partner's server presented last expires",
})
const changed = Metric.gauge("partner_certificate_changed_timestamp_seconds", {
  description: "When a partner server's certificate last changed (unix seconds), by kind of change",
})
const reviewDue = Metric.gauge("partner_review_due_seconds", {
  description: "Seconds until a partner's attestation (tls.review) is due",
})

const interval = Config.integer("RELAY_WATCH_INTERVAL").pipe(Config.withDefault(60))

export const PartnerWatchGauges = Layer.scopedDiscard(
  Effect.gen(function* () {
    const stats = yield* DeliveryStats
    const policy = yield* ActivePolicy
    const seconds = yield* interval
    const sample = Effect.gen(function* () {
      const active = yield* policy.current
      if (Option.isNone(active)) return
      const now = yield* Clock.currentTimeMillis
      const [certificates, routes] = yield* Effect.all([stats.certificates, stats.routes])
      const report = partnerWatch(active.value.payload.policy, certificates, now, {}, routes)
      for (const partner of report) {
        if (partner.review)
          yield* Metric.set(
            Metric.tagged(reviewDue, "partner", partner.partner),
            (partner.review.dueAt - now) / 1000,
          )
        for (const c of partner.certificates) {
          const tagged = <T extends Metric.Metric.Gauge<number>>(m: T) =>
            m.pipe(Metric.tagged("partner", partner.partner), Metric.tagged("server", c.server))
          yield* Metric.set(tagged(expiry), (c.expiresAt - now) / 1000)
          // Before any change: `none`, at the first sighting (so the series exists from the start).
          yield* Metric.set(
            Metric.tagged(tagged(changed), "change", c.change?.kind ?? "none"),
            (c.change?.at ?? c.firstSeen) / 1000,
          )
        }
      }
    }).pipe(
      Effect.catchAll((e) =>
        Effect.logWarning("partner watch not sampled").pipe(Effect.annotateLogs({ error: e.detail })),
      ),
    )
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(Duration.seconds(seconds))))
  }),
)
