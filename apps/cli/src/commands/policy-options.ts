/** Options and output shared by the `policy` subcommands. */
import { Options } from "@effect/cli"
import { type CompileResult, formatDiagnostic, summarizeDiagnostics } from "@mailconnect/policy-compiler"
import { Console, Effect } from "effect"

export const POLICY_DIR_DEFAULT = "policies"

export const dirOption = Options.directory("dir").pipe(
  Options.withDefault(POLICY_DIR_DEFAULT),
  Options.withDescription(`policy directory (default: ${POLICY_DIR_DEFAULT})`),
)

/** One line per diagnostic, then the count; to stderr when stdout carries a result. */
export const printDiagnostics = (result: CompileResult, stream: "stdout" | "stderr") => {
  const print = stream === "stdout" ? Console.log : Console.error
  return Effect.forEach(result.diagnostics, (d) => print(formatDiagnostic(d)), { discard: true })
}

export const describeResult = (dir: string, result: CompileResult): string => {
  const policy = result.policy
  const groups = policy ? Object.keys(policy.groups).length : 0
  // Connectors only when there are any, so the line of a policy without them stays as it was.
  const connectors = policy ? Object.keys(policy.connectors ?? {}).length : 0
  const counts = policy
    ? ` (${Object.keys(policy.partners).length} partners, ${Object.keys(policy.localDomains).length} local domains, ${groups} closed group${groups === 1 ? "" : "s"}${connectors > 0 ? `, ${connectors} connector${connectors === 1 ? "" : "s"}` : ""})`
    : ""
  return `${dir}: ${summarizeDiagnostics(result.diagnostics)}${counts}`
}
