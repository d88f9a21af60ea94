/**
 * `mailconnect policy check [--dir DIR] [--strict [--base GITREF]]`: validate the policy
 * directory, then list the DNS records the operator must publish for local domains with `mtaSts`
 * or `tlsRpt`. With `--base`, `--strict` fails only on warnings in the files the change touches
 * (against that revision): a pull request is not blocked by a lapsed review of a partner it
 * leaves alone — that warning is still printed.
 */
import { Command, Options } from "@effect/cli"
import { mtaStsTxtValue, type PolicySet, tlsRptTxtValue } from "@mailconnect/policy"
import {
  type CompileResult,
  compileDirectory,
  type Diagnostic,
  hasErrors,
} from "@mailconnect/policy-compiler"
import { Console, Effect, Option } from "effect"
import { CliExit } from "../exit"
import { changedFiles } from "./policy-git"
import { describeResult, dirOption, printDiagnostics } from "./policy-options"

const strict = Options.boolean("strict").pipe(
  Options.withDescription("treat warnings (overdue review, expiring certificate) as errors"),
)
const base = Options.text("base").pipe(
  Options.optional,
  Options.withDescription(
    "with --strict: only warnings in files changed since this git revision (e.g. origin/main) fail",
  ),
)

/** `--strict --base`: warnings in the changed files become errors, the others stay warnings. */
const strictFor = (result: CompileResult, changed: ReadonlySet<string>): CompileResult => ({
  ...result,
  diagnostics: result.diagnostics.map(
    (d): Diagnostic => (d.severity === "warning" && changed.has(d.file) ? { ...d, severity: "error" } : d),
  ),
})

/**
 * The DNS records the operator must publish for local domains: one `_mta-sts.<domain>. TXT
 * "v=STSv1; id=…"` line per domain publishing MTA-STS (the id changes exactly when the policy text
 * does, so a changed line means "update DNS"), and one `_smtp._tls.<domain>. TXT "v=TLSRPTv1;
 * rua=…"` line per domain naming a TLS-RPT address.
 */
export const mtaStsRecords = (policy: PolicySet): ReadonlyArray<string> => {
  const locals = Object.values(policy.localDomains).sort((a, b) => (a.domain < b.domain ? -1 : 1))
  const sts = locals
    .filter((local) => local.mtaSts !== undefined)
    .map((local) => `  _mta-sts.${local.domain}. TXT "${mtaStsTxtValue(local.mtaSts!)}"`)
  const rpt = locals
    .filter((local) => local.tlsRpt !== undefined)
    .map((local) => `  _smtp._tls.${local.domain}. TXT "${tlsRptTxtValue(local.tlsRpt!)}"`)
  return [
    ...(sts.length === 0
      ? []
      : [
          "MTA-STS DNS records to publish (serve the policy at https://mta-sts.<domain>/.well-known/mta-sts.txt):",
          ...sts,
        ]),
    ...(rpt.length === 0
      ? []
      : ["TLS-RPT DNS records to publish (where senders send TLS reports, RFC 8460):", ...rpt]),
  ]
}

export const checkCommand = Command.make("check", { dir: dirOption, strict, base }, ({ dir, strict, base }) =>
  Effect.gen(function* () {
    const scoped = strict && Option.isSome(base)
    const compiled = yield* compileDirectory(dir, { strict: strict && !scoped }).pipe(
      Effect.catchTag("PolicyDirectoryUnreadable", (e) =>
        Effect.fail(new CliExit({ code: 1, message: `${e.dir}: ${e.reason}` })),
      ),
    )
    const result = scoped
      ? strictFor(
          compiled,
          yield* changedFiles(base.value, dir).pipe(
            Effect.mapError(
              (e) =>
                new CliExit({ code: 1, message: `--base ${base.value}: not a git revision: ${e.reason}` }),
            ),
          ),
        )
      : compiled
    yield* printDiagnostics(result, "stdout")
    for (const line of result.policy ? mtaStsRecords(result.policy) : []) yield* Console.log(line)
    yield* Console.log(describeResult(dir, result))
    const untouched = result.diagnostics.filter((d) => d.severity === "warning").length
    if (scoped && untouched > 0)
      yield* Console.log(
        `${untouched} warning${untouched === 1 ? "" : "s"} in files this change does not touch (against ${Option.getOrThrow(base)}): reported, not failing`,
      )
    if (hasErrors(result.diagnostics)) return yield* new CliExit({ code: 1 })
  }),
).pipe(
  Command.withDescription(
    "Check the policy files: prints path:line:col: error|warning RULE message (hint). " +
      "Exit 0 when clean or only warnings, 1 on errors (or on warnings with --strict).",
  ),
)
