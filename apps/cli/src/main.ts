#!/usr/bin/env node
/**
 * `mailconnect` — the operator CLI. This file only assembles the command tree and runs it;
 * each command lives in `commands/`. Exit statuses: 0 success, 1 a check failed (see each
 * command's help), 2 usage error.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { fleetCommand } from "./commands/fleet"
import { keysCommand } from "./commands/keys"
import { policyCommand } from "./commands/policy"
import { probeCommand } from "./commands/probe"
import { queueCommand } from "./commands/queue"
import { timelineCommand } from "./commands/timeline"
import { usersCommand } from "./commands/users"
import { CliExit } from "./exit"

const root = Command.make("mailconnect").pipe(
  Command.withDescription("Enforced-TLS mail relay: policy as code, signed bundles, fleet operations."),
  Command.withSubcommands([
    policyCommand,
    keysCommand,
    probeCommand,
    timelineCommand,
    fleetCommand,
    queueCommand,
    usersCommand,
  ]),
)

const cli = Command.run(root, { name: "mailconnect", version: "0.1.0" })

// `mailconnect timeline | head`: a closed pipe ends the output, not the process with a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
})

const setExitCode = (code: number) => Effect.sync(() => (process.exitCode = code))

const program = cli(process.argv).pipe(
  Effect.catchIf(
    (e): e is CliExit => e instanceof CliExit,
    (e) => (e.message ? Console.error(e.message) : Effect.void).pipe(Effect.zipRight(setExitCode(e.code))),
  ),
  // @effect/cli has already printed the usage problem; only the status is left to set.
  Effect.catchIf(ValidationError.isValidationError, () => setExitCode(2)),
  Effect.provide(NodeContext.layer),
)

NodeRuntime.runMain(program, { disableErrorReporting: false, disablePrettyLogger: true })
