/**
 * The MTA-STS policy (RFC 8461) a local domain publishes: `mtaSts` as written → the model's
 * `PublishedMtaSts`, or the problems found. Check reports the problems (MTA-STS-INVALID), resolve
 * takes the value, so the two never disagree about what a field means.
 *
 * What is *not* checked: that the mx patterns cover the domain's public MX hosts. Those are the
 * relays' inbound names, which the policy does not know (`deliverTo` is the internal next hop
 * behind the relays and never an MX of the domain), so a coverage check here would be wrong.
 */
import {
  MTA_STS_MAX_AGE_LIMIT,
  type MtaStsMode,
  type PublishedMtaSts,
  parseDuration,
  patternToALabel,
} from "@mailconnect/policy"
import type { Diagnostic } from "../diagnostic"
import type { PathSegment } from "../source/parse"
import type { PublishedMtaStsSource } from "../source/schema"
import { diagnosticAt } from "../source/validate"
import type { LocalDomainsSource } from "./sources"

const MODES: ReadonlyArray<MtaStsMode> = ["enforce", "testing", "none"]
const DAY_SECONDS = 86_400

interface Problem {
  readonly path: ReadonlyArray<PathSegment>
  readonly message: string
  readonly hint: string
}

export type ReadMtaSts =
  | { readonly policy: PublishedMtaSts; readonly problems?: undefined }
  | { readonly policy?: undefined; readonly problems: ReadonlyArray<Problem> }

/** An mx pattern: a host name of two or more labels, optionally `*.` as the whole leftmost label. */
const mxPattern = (written: string): string | undefined => {
  const text = written.trim()
  const converted = patternToALabel(text)
  if (converted === undefined) return undefined
  const labels = (converted.startsWith("*.") ? converted.slice(2) : converted).split(".")
  return labels.length >= 2 && !/^\d+$/.test(labels[labels.length - 1]!) ? converted : undefined
}

export const readMtaSts = (source: PublishedMtaStsSource): ReadMtaSts => {
  const problems: Array<Problem> = []
  const mode = MODES.find((m) => m === source.mode)
  if (!mode)
    problems.push({
      path: ["mode"],
      message: `mtaSts.mode "${source.mode}" is not enforce, testing or none`,
      hint: "write enforce, testing (report only) or none (withdraw the policy)",
    })
  const ms = parseDuration(source.maxAge)
  const maxAge = ms === undefined || ms % 1000 !== 0 ? undefined : ms / 1000
  if (maxAge === undefined || maxAge > MTA_STS_MAX_AGE_LIMIT)
    problems.push({
      path: ["maxAge"],
      message: `mtaSts.maxAge "${source.maxAge}" is not a whole number of seconds from 0 to ${MTA_STS_MAX_AGE_LIMIT}`,
      hint: "write a duration such as 7d or 365d (at most 31557600 s, RFC 8461 §3.2)",
    })
  const mx: Array<string> = []
  ;(source.mx ?? []).forEach((written, i) => {
    const pattern = mxPattern(written)
    if (pattern === undefined)
      problems.push({
        path: ["mx", i],
        message: `mtaSts.mx "${written}" is not a host name or *.suffix`,
        hint: "name the domain's public MX hosts (the relays' inbound names), e.g. mx1.relay.example or *.relay.example",
      })
    else mx.push(pattern)
  })
  if (mode !== undefined && mode !== "none" && (source.mx ?? []).length === 0)
    problems.push({
      path: [],
      message: `mtaSts.mode ${mode} without any mx pattern`,
      hint: "list the domain's public MX hosts under mx (every MX must match one)",
    })
  if (problems.length > 0 || mode === undefined || maxAge === undefined) return { problems }
  return { policy: { mode, maxAge, mx } }
}

export const checkPublishedMtaSts = (sources: ReadonlyArray<LocalDomainsSource>): Array<Diagnostic> => {
  const out: Array<Diagnostic> = []
  for (const { doc, file } of sources)
    doc.domains.forEach((entry, i) => {
      if (entry.mtaSts === undefined) return
      const base: ReadonlyArray<PathSegment> = ["domains", i, "mtaSts"]
      const read = readMtaSts(entry.mtaSts)
      if (read.problems)
        for (const p of read.problems)
          out.push(diagnosticAt(file, [...base, ...p.path], "MTA-STS-INVALID", p.message, p.hint))
      else if (read.policy.mode === "enforce" && read.policy.maxAge < DAY_SECONDS)
        out.push(
          diagnosticAt(
            file,
            [...base, "maxAge"],
            "MTA-STS-MAX-AGE-SHORT",
            `${entry.domain} enforces MTA-STS with max_age ${read.policy.maxAge} s`,
            "senders forget the policy after max_age: publish weeks (e.g. 7d or more) once enforce works",
            { severity: "warning" },
          ),
        )
    })
  return out
}
