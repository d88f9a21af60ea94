/**
 * `mailconnect policy diff --base DIR|GITREF [--head DIR] [--format text|markdown|json]`: the
 * effective change between two policy directories after defaults are resolved. A base that is
 * not a directory is taken as a git revision of the head directory (e.g. `origin/main`) and
 * materialized with `git archive` into a temporary directory.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import {
  canonicalizePlan,
  compileDirectory,
  hasErrors,
  planDiff,
  renderPlanMarkdown,
  renderPlanText,
} from "@mailconnect/policy-compiler"
import { Clock, Console, Effect } from "effect"
import { CliExit } from "../exit"
import { materializeRef } from "./policy-git"
import { POLICY_DIR_DEFAULT, printDiagnostics } from "./policy-options"

const base = Options.text("base").pipe(
  Options.withDescription(
    "base policy: a directory, or a git revision of the head directory (e.g. origin/main)",
  ),
)
const head = Options.directory("head").pipe(
  Options.withDefault(POLICY_DIR_DEFAULT),
  Options.withDescription(`head policy directory (default: ${POLICY_DIR_DEFAULT})`),
)
const format = Options.choice("format", ["text", "markdown", "json"]).pipe(
  Options.withDefault("text" as const),
  Options.withDescription(
    "output: text (terminal), markdown (pull-request comment) or json (the plan as data)",
  ),
)

const fail = (message: string) => new CliExit({ code: 1, message })

const compileSide = (label: string, dir: string, now: Date) =>
  compileDirectory(dir, { now }).pipe(
    Effect.catchTag("PolicyDirectoryUnreadable", (e) => Effect.fail(fail(`${label} ${e.dir}: ${e.reason}`))),
    Effect.tap((result) => printDiagnostics(result, "stderr")),
    Effect.flatMap((result) =>
      hasErrors(result.diagnostics) || !result.policy
        ? Effect.fail(fail(`${label} policy (${dir}) has errors; fix them before diffing`))
        : Effect.succeed(result.policy),
    ),
  )

export const diffCommand = Command.make("diff", { base, head, format }, ({ base, head, format }) =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const now = new Date(yield* Clock.currentTimeMillis)
      const baseIsDir = yield* fs.stat(base).pipe(
        Effect.map((info) => info.type === "Directory"),
        Effect.orElseSucceed(() => false),
      )
      let baseDir = base
      if (!baseIsDir) {
        const temp = yield* fs.makeTempDirectoryScoped({ prefix: "mailconnect-diff-" })
        baseDir = path.join(temp, "base")
        yield* fs.makeDirectory(baseDir)
        yield* materializeRef(base, head, baseDir).pipe(
          Effect.mapError((e) =>
            fail(`--base ${base} is neither a directory nor a git revision: ${e.reason}`),
          ),
        )
      }
      const before = yield* compileSide("base", baseDir, now)
      const after = yield* compileSide("head", head, now)
      const plan = planDiff(before, after)
      const title = `Policy plan: ${base} → ${head}`
      const output =
        format === "json"
          ? `${canonicalizePlan(plan)}\n`
          : format === "markdown"
            ? renderPlanMarkdown(plan, title)
            : renderPlanText(plan, title)
      yield* Console.log(output.trimEnd())
    }),
  ),
).pipe(
  Command.withDescription(
    "Show the effective policy change (after defaults) between a base and a head, with security-relevant changes flagged.",
  ),
)
