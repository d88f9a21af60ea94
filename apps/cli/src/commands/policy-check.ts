/** `mailconnect policy check [--dir DIR] [--strict]`: validate the policy directory. */
import { Command, Options } from "@effect/cli"
import { compileDirectory, hasErrors } from "@mailconnect/policy-compiler"
import { Console, Effect } from "effect"
import { CliExit } from "../exit"
import { describeResult, dirOption, printDiagnostics } from "./policy-options"

const strict = Options.boolean("strict").pipe(
  Options.withDescription("treat warnings (overdue review, expiring certificate) as errors"),
)

export const checkCommand = Command.make("check", { dir: dirOption, strict }, ({ dir, strict }) =>
  Effect.gen(function* () {
    const result = yield* compileDirectory(dir, { strict }).pipe(
      Effect.catchTag("PolicyDirectoryUnreadable", (e) =>
        Effect.fail(new CliExit({ code: 1, message: `${e.dir}: ${e.reason}` })),
      ),
    )
    yield* printDiagnostics(result, "stdout")
    yield* Console.log(describeResult(dir, result))
    if (hasErrors(result.diagnostics)) return yield* new CliExit({ code: 1 })
  }),
).pipe(
  Command.withDescription(
    "Check the policy files: prints path:line:col: error|warning RULE message (hint). " +
      "Exit 0 when clean or only warnings, 1 on errors (or on warnings with --strict).",
  ),
)
