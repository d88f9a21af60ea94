#!/usr/bin/env node
/**
 * `mailconnect` — the operator CLI. This file only assembles the command tree and runs it;
 * each command lives in `commands/`.
 *
 * Output: a command's result (table, text or `--json`) is the only thing on stdout, so it can be
 * piped and parsed. Everything else goes to stderr: log lines (the policy hot-loader's "policy
 * bundle activated", Redis connection warnings, …; minimum level `--log-level LEVEL` or
 * `MAILCONNECT_LOG_LEVEL`, default info, `none` silences them), error messages, and the short
 * usage after a usage error. `--help` prints the full help on stdout.
 *
 * Exit statuses: 0 success, 1 a check failed or the command could not do its work (see each
 * command's help), 2 usage error (unknown or missing subcommand, bad option or argument).
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Logger, LogLevel } from "effect"
import { fleetCommand } from "./commands/fleet"
import { keysCommand } from "./commands/keys"
import { partnersCommand } from "./commands/partners"
import { policyCommand } from "./commands/policy"
import { probeCommand } from "./commands/probe"
import { queueCommand } from "./commands/queue"
import { timelineCommand } from "./commands/timeline"
import { traceCommand } from "./commands/trace"
import { usersCommand } from "./commands/users"
import { CliExit } from "./exit"
import { missingSubcommand, shortUsage } from "./usage"

const commands = [
  policyCommand,
  keysCommand,
  probeCommand,
  timelineCommand,
  fleetCommand,
  queueCommand,
  usersCommand,
  partnersCommand,
  traceCommand,
] as const

const root = Command.make("mailconnect", {}, missingSubcommand("mailconnect")).pipe(
  Command.withDescription("Enforced-TLS mail relay: policy as code, signed bundles, fleet operations."),
  Command.withSubcommands(commands),
)

const cli = Command.run(root, { name: "mailconnect", version: "0.1.0" })

// `mailconnect timeline | head`: a closed pipe ends the output, not the process with a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
})

const setExitCode = (code: number) => Effect.sync(() => (process.exitCode = code))

const usage = () => Console.error(shortUsage("mailconnect", commands, process.argv.slice(2)))

/** The names `--log-level` takes, and Effect's own labels (`WARN`), in any case. */
const LEVELS: Record<string, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None,
}

/** `MAILCONNECT_LOG_LEVEL`; a `--log-level` on the command line takes precedence. */
const envLevel = Effect.suspend(() => {
  const value = process.env.MAILCONNECT_LOG_LEVEL?.trim()
  if (!value) return Effect.succeed(undefined)
  const level = LEVELS[value.toLowerCase()]
  return level
    ? Effect.succeed(level)
    : Effect.fail(
        new CliExit({
          code: 2,
          message: `MAILCONNECT_LOG_LEVEL: unknown level '${value}' (one of ${Object.keys(LEVELS).join(", ")})`,
        }),
      )
})

const run = Effect.flatMap(envLevel, (level) =>
  level ? cli(process.argv).pipe(Logger.withMinimumLogLevel(level)) : cli(process.argv),
)

/** Log lines are diagnostics, never part of a result: the default (logfmt) format, on stderr. */
const logToStderr = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger))

const program = run.pipe(
  Effect.catchIf(
    (e): e is CliExit => e instanceof CliExit,
    (e) =>
      (e.message ? Console.error(e.message) : Effect.void).pipe(
        Effect.zipRight(e.code === 2 ? usage() : Effect.void),
        Effect.zipRight(setExitCode(e.code)),
      ),
  ),
  // @effect/cli has already printed the usage problem (to stderr); the short usage and the status are left.
  Effect.catchIf(ValidationError.isValidationError, () => usage().pipe(Effect.zipRight(setExitCode(2)))),
  // Anything unexpected: the cause on stderr, and runMain exits 1 (its own report would log to stdout).
  Effect.tapErrorCause((cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause)),
  ),
  Effect.provide(logToStderr),
  Effect.provide(NodeContext.layer),
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
