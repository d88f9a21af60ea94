/**
 * Provider change watch: every RELAY_ROUTE_CHECK_INTERVAL seconds (default 600) the MX hosts of
 * each enforced partner's domains are compared with the servers its route names
 * (`@mailconnect/delivery-queue › checkRoute`); the result is kept fleet-wide in Redis for the
 * report, the dashboard and the NDR text, and exported as `partner_route_mismatch{partner}` (1:
 * no route host is an MX host any more — the partner moved, or the route is stale). Wildcard
 * domains cannot be looked up and are skipped; a failed look-up keeps the last result. The MX
 * come from RELAY_DNS_SERVERS (else the system's resolver); RELAY_ROUTE_CHECK=off turns it off.
 * A failed delivery to such a partner carries the mismatch into its job and NDR text (the worker
 * reads the stored check: no DNS on the delivery path).
 */
import { checkRoute, DeliveryStats, type RouteCheck } from "@mailconnect/delivery-queue"
import { ActivePolicy } from "@mailconnect/policy-store"
import { DnsResolver } from "@mailconnect/smtp-outbound"
import { Clock, Config, Duration, Effect, Layer, Metric, Option, Schedule } from "effect"

const mismatch = Metric.gauge("partner_route_mismatch", {
  description: "1 when none of a partner's route servers is an MX host of its domain (provider changed?)",
})

const interval = Config.integer("RELAY_ROUTE_CHECK_INTERVAL").pipe(Config.withDefault(600))
/** `off`: no look-ups (a lab whose partner domains are not in any DNS). */
const enabled = Config.literal("on", "off")("RELAY_ROUTE_CHECK").pipe(Config.withDefault("on"))

export const RouteWatch = Layer.scopedDiscard(
  Effect.gen(function* () {
    const stats = yield* DeliveryStats
    const policy = yield* ActivePolicy
    const dns = yield* DnsResolver
    const seconds = yield* interval
    if ((yield* enabled) === "off") return
    const mxOf = (domain: string) =>
      Effect.tryPromise(() => dns.mx(domain)).pipe(Effect.map((records) => records.map((r) => r.exchange)))
    const sample = Effect.gen(function* () {
      const active = yield* policy.current
      if (Option.isNone(active)) return
      for (const partner of Object.values(active.value.payload.policy.partners)) {
        const servers = partner.servers ?? []
        if (partner.tls.mode === "opportunistic" || servers.length === 0) continue
        const now = yield* Clock.currentTimeMillis
        const checks: Array<RouteCheck> = []
        for (const domain of partner.domains.filter((d) => !d.startsWith("*."))) {
          const mx = yield* Effect.option(mxOf(domain))
          if (Option.isSome(mx))
            checks.push(
              checkRoute(
                domain,
                mx.value,
                servers.map((s) => s.host),
                now,
              ),
            )
        }
        // One result per partner: the first domain that moved, else the first checked.
        const chosen = checks.find((c) => c.mismatch) ?? checks[0]
        if (chosen === undefined) continue
        yield* stats.recordRoute(partner.name, chosen).pipe(Effect.ignore)
        yield* Metric.set(Metric.tagged(mismatch, "partner", partner.name), chosen.mismatch ? 1 : 0)
      }
    })
    yield* Effect.forkScoped(Effect.repeat(Effect.ignore(sample), Schedule.spaced(Duration.seconds(seconds))))
  }),
).pipe(Layer.provide(DnsResolver.layerFromEnv))
