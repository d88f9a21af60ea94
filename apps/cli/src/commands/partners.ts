/**
 * `mailconnect partners report [--dir DIR] [--json] [--expiry-days N] [--review-days N]`: what is
 * due for the partners under an enforced agreement — certificates their servers presented that
 * expire soon or changed (from the fleet's certificate watch in Redis, REDIS_URL), attestations
 * (`tls.review`) due — with the contacts to write to: the yearly attestation round on one page.
 * Without Redis the certificate columns are empty and stderr says why; the policy comes from DIR.
 * Exit 0 always when the report was made (it is a report, not a check).
 */
import { Command, Options } from "@effect/cli"
import {
  DeliveryStats,
  type PartnerStatus,
  partnerWatch,
  QueueLayout,
  type RouteCheck,
  type WatchedCertificate,
} from "@mailconnect/delivery-queue"
import { compileDirectory } from "@mailconnect/policy-compiler"
import { RedisClient } from "@mailconnect/redis-client"
import { Clock, Console, Effect, Layer } from "effect"
import { CliExit } from "../exit"
import { missingSubcommand } from "../usage"
import { dirOption } from "./policy-options"

const json = Options.boolean("json").pipe(Options.withDescription("machine-readable output"))
const expiryDays = Options.integer("expiry-days").pipe(
  Options.withDefault(21),
  Options.withDescription("warn of certificates expiring within this many days (default 21)"),
)
const reviewDays = Options.integer("review-days").pipe(
  Options.withDefault(30),
  Options.withDescription("warn of attestations due within this many days (default 30)"),
)

/** The watch from Redis; none (and a line on stderr) when Redis does not answer. */
const watched = Effect.gen(function* () {
  const stats = yield* DeliveryStats
  return yield* Effect.all([stats.certificates, stats.routes])
}).pipe(
  // Every shard's statistics (the layout recorded in Redis says how many).
  Effect.provide(DeliveryStats.layer.pipe(Layer.provide(QueueLayout.layer))),
  Effect.provide(RedisClient.layerFromEnv),
  Effect.scoped,
  Effect.catchAll((e) =>
    Console.error(
      `certificate watch unavailable (${"detail" in e ? e.detail : e._tag}): certificates not shown`,
    ).pipe(
      Effect.as([[], {}] as readonly [
        ReadonlyArray<WatchedCertificate>,
        Readonly<Record<string, RouteCheck>>,
      ]),
    ),
  ),
)

const day = (t: number) => new Date(t).toISOString().slice(0, 10)

/** One block per partner: attention first, then review, certificates and contacts. */
export const renderReport = (report: ReadonlyArray<PartnerStatus>): string =>
  report
    .map((p) => {
      const lines = [
        `${p.partner} (${p.mode})${p.attention.length > 0 ? `  ATTENTION: ${p.attention.join(", ")}` : ""}`,
      ]
      lines.push(
        p.review
          ? `  attestation due ${p.review.dueOn} (${p.review.daysLeft} days)`
          : "  attestation: no tls.review in the policy",
      )
      if (p.agreement)
        lines.push(
          `  agreement ${p.agreement.reference}${p.agreement.confirmedBy ? `, confirmed by ${p.agreement.confirmedBy}${p.agreement.confirmedOn ? ` on ${p.agreement.confirmedOn}` : ""}` : ""}`,
        )
      if (p.route?.note) lines.push(`  route: ${p.route.note} — has the partner changed provider?`)
      if (p.certificates.length === 0) lines.push("  certificate: not seen yet")
      for (const c of p.certificates) {
        lines.push(
          `  ${c.server}: expires ${day(c.expiresAt)} (${c.daysLeft} days), issuer ${c.certificate.issuer}, pin ${c.certificate.spkiPin}`,
        )
        if (c.change) lines.push(`    changed ${day(c.change.at)}: ${c.change.advice}`)
      }
      for (const contact of p.contacts)
        lines.push(`  contact: ${contact.name} <${contact.email}>${contact.phone ? ` ${contact.phone}` : ""}`)
      return lines.join("\n")
    })
    .join("\n\n")

const report = Command.make("report", { dir: dirOption, json, expiryDays, reviewDays }, (args) =>
  Effect.gen(function* () {
    const result = yield* compileDirectory(args.dir).pipe(
      Effect.mapError((e) => new CliExit({ code: 1, message: `${args.dir}: ${JSON.stringify(e)}` })),
    )
    if (!result.policy)
      return yield* new CliExit({ code: 1, message: `${args.dir} has errors; run mailconnect policy check` })
    const now = yield* Clock.currentTimeMillis
    const [certificates, routes] = yield* watched
    const statuses = partnerWatch(
      result.policy,
      certificates,
      now,
      { expiryWarningDays: args.expiryDays, reviewWarningDays: args.reviewDays },
      routes,
    )
    yield* Console.log(args.json ? JSON.stringify(statuses, null, 2) : renderReport(statuses))
  }),
).pipe(
  Command.withDescription(
    "What is due for enforced partners: certificates expiring or changed (fleet watch in Redis), attestations due, contacts.",
  ),
)

export const partnersCommand = Command.make("partners", {}, missingSubcommand("partners")).pipe(
  Command.withDescription("Partner agreements: what is due."),
  Command.withSubcommands([report]),
)
