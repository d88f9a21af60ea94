/**
 * `mailconnect timeline [--partner NAME] [--queued-at ISO] [--json]`: the retry schedule a
 * message gets — every attempt time, the delay-warning mark and the expiry — exactly as the
 * delivery workers compute it (same pure function).
 */
import { Command, Options } from "@effect/cli"
import { formatDuration, type RetryPolicy } from "@mailconnect/policy"
import { compileDirectory } from "@mailconnect/policy-compiler"
import { computeTimeline } from "@mailconnect/retry-timeline"
import { Clock, Console, Effect, Option } from "effect"
import { CliExit } from "../exit"
import { dirOption } from "./policy-options"

const partner = Options.text("partner").pipe(
  Options.optional,
  Options.withDescription("use this partner's retry override"),
)
const queuedAt = Options.text("queued-at").pipe(
  Options.optional,
  Options.withDescription("ISO time of queueing (default: now)"),
)
const json = Options.boolean("json").pipe(Options.withDescription("machine-readable output"))

const describeRetry = (r: RetryPolicy) =>
  `schedule ${r.schedule.map(formatDuration).join(",") || "-"} every ${formatDuration(r.every)} warn after ${formatDuration(r.warnAfter)} expire after ${formatDuration(r.expireAfter)}`

export const timelineCommand = Command.make("timeline", { dir: dirOption, partner, queuedAt, json }, (args) =>
  Effect.gen(function* () {
    const result = yield* compileDirectory(args.dir).pipe(
      Effect.mapError((e) => new CliExit({ code: 1, message: `${args.dir}: ${JSON.stringify(e)}` })),
    )
    if (!result.policy)
      return yield* new CliExit({ code: 1, message: `${args.dir} has errors; run mailconnect policy check` })
    const policy = result.policy
    const name = Option.getOrUndefined(args.partner)
    const chosen = name === undefined ? undefined : policy.partners[name]
    if (name !== undefined && !chosen)
      return yield* new CliExit({ code: 1, message: `no partner ${name} in ${args.dir}` })
    const retry = chosen?.retry ?? policy.defaults.retry
    const start = Option.isSome(args.queuedAt)
      ? Date.parse(args.queuedAt.value)
      : yield* Clock.currentTimeMillis
    if (Number.isNaN(start))
      return yield* new CliExit({ code: 1, message: "--queued-at is not an ISO date-time" })
    const timeline = computeTimeline(start, retry)
    const iso = (t: number) => new Date(t).toISOString()
    if (args.json) {
      return yield* Console.log(
        JSON.stringify(
          {
            partner: name ?? null,
            retry,
            queuedAt: iso(start),
            attempts: timeline.attempts.map(iso),
            warnAt: iso(timeline.warnAt),
            expireAt: iso(timeline.expireAt),
          },
          null,
          2,
        ),
      )
    }
    yield* Console.log(`retry policy ${name ? `of partner ${name}` : "(defaults)"}: ${describeRetry(retry)}`)
    yield* Console.log(`queued at ${iso(start)}; ${timeline.attempts.length} attempts`)
    for (const [i, t] of timeline.attempts.entries()) {
      const mark =
        t === timeline.expireAt
          ? "  <- expiry: NDR if still undelivered"
          : t === timeline.warnAt
            ? "  <- delay warning to the sender if still undelivered"
            : ""
      yield* Console.log(`${String(i + 1).padStart(4)}  ${iso(t)}  +${formatDuration(t - start)}${mark}`)
    }
  }),
).pipe(Command.withDescription("Print the retry timeline: attempt times, the delay warning and the expiry."))
