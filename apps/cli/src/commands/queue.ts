/**
 * `mailconnect queue flush [--domain D | --partner P]` and `mailconnect queue show <message-id>`:
 * promote waiting mail so it is tried now, and show one message's recipients, attempts and next
 * attempt. Redis from `REDIS_URL`; `--partner` reads the active bundle (verified with
 * `MAILCONNECT_TRUSTED_KEYS`) to know which domains are that partner's. The management
 * commands (list, hold, release, retry, delete, bounce) are in `queue-manage.ts`.
 */

import { Args, Command, Options } from "@effect/cli"
import { QueueAdmin } from "@mailconnect/delivery-queue"
import { PolicyView } from "@mailconnect/policy"
import { Console, Effect, Option } from "effect"
import { CliExit } from "../exit"
import { missingSubcommand } from "../usage"
import { queueLayer, unavailable } from "./queue-layer"
import { queueManagement } from "./queue-manage"
import { renderMessage } from "./queue-render"

const domain = Options.text("domain").pipe(
  Options.optional,
  Options.withDescription("promote mail for this recipient domain"),
)
const partner = Options.text("partner").pipe(
  Options.optional,
  Options.withDescription("promote mail for this partner's domains"),
)

const flush = Command.make("flush", { domain, partner }, (args) =>
  Effect.gen(function* () {
    const queue = yield* QueueAdmin
    const view = yield* PolicyView
    const filter = {
      ...(Option.isSome(args.domain) ? { domain: args.domain.value } : {}),
      ...(Option.isSome(args.partner) ? { partner: args.partner.value } : {}),
    }
    if (filter.partner !== undefined) {
      const active = yield* view.current
      if (!active)
        return yield* new CliExit({
          code: 1,
          message: "--partner needs the active bundle: set MAILCONNECT_TRUSTED_KEYS",
        })
    }
    const promoted = yield* queue.flush(filter).pipe(Effect.mapError(unavailable))
    yield* Console.log(`promoted ${promoted} waiting job(s)`)
  }).pipe(Effect.provide(queueLayer)),
).pipe(Command.withDescription("Try waiting mail now instead of at its next timeline point."))

const messageId = Args.text({ name: "message-id" }).pipe(
  Args.withDescription("the queue id from the 250 reply"),
)
const json = Options.boolean("json").pipe(Options.withDescription("print as JSON"))

const show = Command.make("show", { messageId, json }, (args) =>
  Effect.gen(function* () {
    const queue = yield* QueueAdmin
    const view = yield* queue.show(args.messageId).pipe(
      Effect.catchTag("MessageUnknown", (e) =>
        Effect.fail(new CliExit({ code: 1, message: `unknown message ${e.messageId}` })),
      ),
      Effect.catchTag("QueueUnavailable", (e) => Effect.fail(unavailable(e))),
    )
    yield* Console.log(args.json ? JSON.stringify(view, null, 2) : renderMessage(view))
  }).pipe(Effect.provide(queueLayer)),
).pipe(Command.withDescription("Show a message's recipients, attempts, next attempt and job log."))

export const queueCommand = Command.make("queue", {}, missingSubcommand("queue")).pipe(
  Command.withDescription("Inspect and manage the delivery queue."),
  Command.withSubcommands([flush, show, ...queueManagement]),
)
