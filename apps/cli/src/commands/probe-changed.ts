/**
 * `mailconnect probe --changed --base REF [--dir DIR] [--format text|json|markdown]`: probes every
 * partner a policy change adds or modifies — the plan of `policy diff` between the revision `REF`
 * and the directory decides which. A partner with route servers is probed once (through its first
 * domain: the servers are the same for all); one delivered by MX is probed for each domain, since
 * each has its own MX. Wildcard domains have no servers to look up and are listed as skipped.
 * Exit 0 only when every server passes. Touches: git (the base revision), the partners' servers.
 */
import { FileSystem, Path } from "@effect/platform"
import type { Partner } from "@mailconnect/policy"
import { compileDirectory, hasErrors, planDiff } from "@mailconnect/policy-compiler"
import { Clock, Console, Effect } from "effect"
import { CliExit } from "../exit"
import { materializeRef } from "./policy-git"
import type { ProbeResult } from "./probe"
import { renderProbeMarkdown } from "./probe-markdown"

export interface ChangedProbeInput<E, R> {
  readonly base: string
  readonly dir: string
  readonly format: "text" | "json" | "markdown"
  readonly probe: (domain: string) => Effect.Effect<ProbeResult, E, R>
  readonly renderText: (report: ProbeResult) => string
}

const fail = (message: string) => new CliExit({ code: 1, message: `probe --changed: ${message}` })

const compiled = (label: string, dir: string, now: Date) =>
  compileDirectory(dir, { now }).pipe(
    Effect.mapError((e) => fail(`${label} ${e.dir}: ${e.reason}`)),
    Effect.flatMap((result) =>
      hasErrors(result.diagnostics) || !result.policy
        ? Effect.fail(fail(`the ${label} policy does not compile; run policy check`))
        : Effect.succeed(result.policy),
    ),
  )

/** The domains to probe for a partner: one when it names its servers, each (but wildcards) otherwise. */
export const probeTargets = (
  partner: Partner,
): { targets: ReadonlyArray<string>; skipped: ReadonlyArray<string> } => {
  const plain = partner.domains.filter((d) => !d.startsWith("*"))
  const skipped = partner.domains.filter((d) => d.startsWith("*"))
  if (partner.servers && partner.servers.length > 0) return { targets: plain.slice(0, 1), skipped }
  return { targets: plain, skipped }
}

export const probeChanged = <E, R>(input: ChangedProbeInput<E, R>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const now = new Date(yield* Clock.currentTimeMillis)
      const temp = yield* fs.makeTempDirectoryScoped({ prefix: "mailconnect-probe-" })
      const baseDir = path.join(temp, "base")
      yield* fs.makeDirectory(baseDir)
      yield* materializeRef(input.base, input.dir, baseDir).pipe(
        Effect.mapError((e) => fail(`--base ${input.base} is not a git revision: ${e.reason}`)),
      )
      const before = yield* compiled("base", baseDir, now)
      const after = yield* compiled("head", input.dir, now)
      const names = planDiff(before, after)
        .changes.filter((c) => c.kind === "partner" && c.action !== "delete")
        .map((c) => c.name)
      const results: Array<{ partner: string; report: ProbeResult }> = []
      const skipped: Array<string> = []
      for (const name of names) {
        const partner = after.partners[name]!
        const plan = probeTargets(partner)
        skipped.push(...plan.skipped.map((d) => `${name}: ${d} (wildcard)`))
        for (const domain of plan.targets) results.push({ partner: name, report: yield* input.probe(domain) })
      }
      const ok = results.every((r) => r.report.ok)
      const output =
        input.format === "json"
          ? JSON.stringify({ ok, partners: names, skipped, reports: results }, null, 2)
          : input.format === "markdown"
            ? `${renderProbeMarkdown(results)}${skipped.length > 0 ? `\nNot probed: ${skipped.join(", ")}\n` : ""}`.trimEnd()
            : [
                names.length === 0
                  ? `no partner added or changed against ${input.base}: nothing to probe`
                  : `probing ${names.length} changed partner${names.length === 1 ? "" : "s"} against ${input.base}: ${names.join(", ")}`,
                ...results.map((r) => `\n${input.renderText(r.report)}`),
                ...skipped.map((s) => `not probed: ${s}`),
              ].join("\n")
      yield* Console.log(output)
      if (!ok) return yield* new CliExit({ code: 1 })
    }),
  )
