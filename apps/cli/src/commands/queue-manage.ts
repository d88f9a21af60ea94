/**
 * `mailconnect queue list|hold|release|retry|delete|bounce` — queue management like Postfix's
 * `postqueue -p` and `postsuper -h/-H/-d`: on message ids, or in bulk by a selection
 * (`--partner`, `--domain`, `--code`, `--older-than 2h`, `--state deferred|held|waiting|active|failed`,
 * `--all`). `--dry-run` prints what would be touched and changes nothing; a real bulk action
 * over more than `BULK_CONFIRM_ABOVE` messages needs `--yes`. Each action that ran is written to
 * the fleet's audit stream (`{prefix}:audit`) and logged on stderr; the result is on stdout
 * (text, or `--json`). Exit 0 done; 1 refused (`--yes` missing) or Redis unavailable; 2 usage.
 */
import { userInfo } from "node:os"
import { Args, Command, Options } from "@effect/cli"
import {
  type ActionReport,
  BULK_CONFIRM_ABOVE,
  FailureCodeSchema,
  isUnbounded,
  messageCount,
  QUEUE_STATES,
  type QueueAction,
  QueueOps,
  type Selection,
} from "@mailconnect/delivery-queue"
import { parseDuration } from "@mailconnect/policy"
import { Clock, Console, Effect, Layer, Option, Schema } from "effect"
import { CliExit } from "../exit"
import { queueLayer, unavailable } from "./queue-layer"
import { renderList, renderReport } from "./queue-render"

const opsLayer = QueueOps.layer.pipe(Layer.provideMerge(queueLayer))

const usage = (message: string) => new CliExit({ code: 2, message })

const selectionOptions = {
  partner: Options.text("partner").pipe(
    Options.optional,
    Options.withDescription("mail for this partner's domains"),
  ),
  domain: Options.text("domain").pipe(
    Options.optional,
    Options.withDescription("mail for this recipient domain"),
  ),
  code: Options.text("code").pipe(
    Options.optional,
    Options.withDescription("mail whose last attempt failed with this code (e.g. CERT_PIN_MISMATCH)"),
  ),
  olderThan: Options.text("older-than").pipe(
    Options.optional,
    Options.withDescription("mail queued at least this long ago (30m, 2h, 3d)"),
  ),
  state: Options.choice("state", QUEUE_STATES).pipe(
    Options.repeated,
    Options.withDescription("deferred, held, waiting, active or failed (repeatable)"),
  ),
  all: Options.boolean("all").pipe(
    Options.withDescription("the whole queue (needed when nothing else selects)"),
  ),
  messageIds: Args.text({ name: "message-id" }).pipe(
    Args.withDescription("these messages (queue ids from the 250 reply), all their recipient domains"),
    Args.repeated,
  ),
  json: Options.boolean("json").pipe(Options.withDescription("print as JSON")),
}

type SelectionArgs = {
  readonly partner: Option.Option<string>
  readonly domain: Option.Option<string>
  readonly code: Option.Option<string>
  readonly olderThan: Option.Option<string>
  readonly state: ReadonlyArray<(typeof QUEUE_STATES)[number]>
  readonly all: boolean
  readonly messageIds: ReadonlyArray<string>
}

const isFailureCode = Schema.is(FailureCodeSchema)

const toSelection = (args: SelectionArgs): Effect.Effect<Selection, CliExit> =>
  Effect.gen(function* () {
    const code = Option.getOrUndefined(args.code)
    if (code !== undefined && !isFailureCode(code))
      return yield* usage(`--code: unknown failure code '${code}'`)
    const olderText = Option.getOrUndefined(args.olderThan)
    const olderThanMs = olderText === undefined ? undefined : parseDuration(olderText)
    if (olderText !== undefined && olderThanMs === undefined)
      return yield* usage(`--older-than: '${olderText}' is not a duration like 30m, 2h or 3d`)
    return {
      ...(args.messageIds.length > 0 ? { messageIds: args.messageIds } : {}),
      ...Option.match(args.partner, { onNone: () => ({}), onSome: (partner) => ({ partner }) }),
      ...Option.match(args.domain, { onNone: () => ({}), onSome: (domain) => ({ domain }) }),
      ...(code !== undefined && isFailureCode(code) ? { code } : {}),
      ...(olderThanMs === undefined ? {} : { olderThanMs }),
      ...(args.state.length > 0 ? { states: args.state } : {}),
      ...(args.all ? { all: true } : {}),
    }
  })

const list = Command.make("list", selectionOptions, (args) =>
  Effect.gen(function* () {
    const selection = yield* toSelection(args)
    const ops = yield* QueueOps
    const entries = yield* ops.list(selection).pipe(Effect.mapError(unavailable))
    const now = yield* Clock.currentTimeMillis
    yield* Console.log(args.json ? JSON.stringify(entries, null, 2) : renderList(entries, now))
  }).pipe(Effect.provide(opsLayer)),
).pipe(Command.withDescription("List queued mail (mailq): one line per message and recipient domain."))

/** The operator named in the audit: the user who ran sudo, else the OS user. */
const operator = () => ({ name: process.env.SUDO_USER ?? userInfo().username, via: "cli" as const })

const actionOptions = {
  ...selectionOptions,
  dryRun: Options.boolean("dry-run").pipe(
    Options.withDescription("print what would be touched; change nothing"),
  ),
  yes: Options.boolean("yes").pipe(
    Options.withDescription(`confirm a bulk action over more than ${BULK_CONFIRM_ABOVE} messages`),
  ),
}

type ActionArgs = SelectionArgs & { readonly dryRun: boolean; readonly yes: boolean; readonly json: boolean }

const perform = (args: ActionArgs, action: QueueAction) =>
  Effect.gen(function* () {
    const selection = yield* toSelection(args)
    if (isUnbounded(selection))
      return yield* usage(
        "name message ids or a filter (--partner, --domain, --code, --older-than, --state), or --all",
      )
    const ops = yield* QueueOps
    if (!args.dryRun && !args.yes) {
      const plan = yield* ops.plan(action, selection).pipe(Effect.mapError(unavailable))
      const count = messageCount(plan.touch)
      if (count > BULK_CONFIRM_ABOVE)
        return yield* new CliExit({
          code: 1,
          message: `${action.action} would touch ${count} messages (more than ${BULK_CONFIRM_ABOVE}): nothing done; see them with --dry-run, confirm with --yes`,
        })
    }
    const report: ActionReport = yield* ops
      .act({ action, selection, dryRun: args.dryRun, actor: operator() })
      .pipe(Effect.mapError(unavailable))
    const now = yield* Clock.currentTimeMillis
    yield* Console.log(args.json ? JSON.stringify(report, null, 2) : renderReport(report, now))
  }).pipe(Effect.provide(opsLayer))

const reasonOption = (description: string) =>
  Options.text("reason").pipe(Options.optional, Options.withDescription(description))

const hold = Command.make(
  "hold",
  { ...actionOptions, reason: reasonOption("why (shown in the list and the audit)") },
  (args) =>
    perform(args, {
      action: "hold",
      ...Option.match(args.reason, { onNone: () => ({}), onSome: (reason) => ({ reason }) }),
    }),
).pipe(
  Command.withDescription(
    "Put deferred mail on hold: not tried until released. Its timeline keeps running (see docs/operations.md).",
  ),
)

const release = Command.make("release", actionOptions, (args) => perform(args, { action: "release" })).pipe(
  Command.withDescription(
    "Release held mail onto its timeline; a timeline point that passed is due at once.",
  ),
)

const retry = Command.make("retry", actionOptions, (args) => perform(args, { action: "retry" })).pipe(
  Command.withDescription("Try deferred mail now (held mail is left until released)."),
)

const remove = Command.make(
  "delete",
  {
    ...actionOptions,
    ndr: Options.boolean("ndr").pipe(Options.withDescription("tell the sender with a non-delivery report")),
    silent: Options.boolean("silent").pipe(Options.withDescription("tell nobody")),
    reason: reasonOption("the diagnostic of the NDR (with --ndr)"),
  },
  (args) =>
    args.ndr === args.silent
      ? Effect.fail(usage("delete: choose --ndr or --silent"))
      : perform(args, {
          action: "delete",
          notify: args.ndr ? "ndr" : "silent",
          ...Option.match(args.reason, { onNone: () => ({}), onSome: (reason) => ({ reason }) }),
        }),
).pipe(
  Command.withDescription("Delete queued mail, with an NDR to its sender (--ndr) or silently (--silent)."),
)

const bounce = Command.make(
  "bounce",
  {
    ...actionOptions,
    reason: Options.text("reason").pipe(Options.withDescription("the NDR's diagnostic (required)")),
  },
  (args) =>
    args.reason.trim() === ""
      ? Effect.fail(usage("bounce: --reason must say why"))
      : perform(args, { action: "bounce", reason: args.reason.trim() }),
).pipe(Command.withDescription("Return queued mail to its sender now, with the stated reason in the NDR."))

export const queueManagement = [list, hold, release, retry, remove, bounce] as const
