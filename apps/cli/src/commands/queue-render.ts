/**
 * Text renderings of queue management results: the mailq-style list and an action's report
 * (what was, or in a dry run would be, touched, and what was left with why). `--json` prints
 * the data itself instead; both are stdout-only results.
 */
import {
  type ActionReport,
  type MessageView,
  parseJobId,
  type QueueAction,
  type QueueEntry,
} from "@mailconnect/delivery-queue"

const iso = (t: number | undefined) =>
  t === undefined ? "-" : new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z")

/** Age in its largest whole unit, as mailq readers skim it: `3h`, `2d`, `40m`. */
export const age = (ms: number): string => {
  const units: ReadonlyArray<readonly [number, string]> = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
  ]
  for (const [size, unit] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`
  return `${Math.max(0, Math.floor(ms / 1000))}s`
}

const pad = (rows: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "))
}

const row = (e: QueueEntry, now: number): ReadonlyArray<string> => [
  e.jobId,
  e.state,
  age(now - e.queuedAt),
  String(e.attempts),
  e.state === "held" ? "on hold" : e.state === "failed" ? "never" : iso(e.nextAttemptAt),
  e.code ?? "-",
  e.partner ?? "-",
  e.unreadable ? "?" : e.sender === "" ? "<>" : e.sender,
]

const HEADER = ["JOB (MESSAGE/DOMAIN)", "STATE", "AGE", "TRIES", "NEXT", "CODE", "PARTNER", "SENDER"]

const summary = (entries: ReadonlyArray<QueueEntry>) => {
  const messages = new Set(entries.map((e) => e.messageId)).size
  const recipients = entries.reduce((n, e) => n + e.pending.length, 0)
  return `${entries.length} job(s), ${messages} message(s), ${recipients} pending recipient(s)`
}

/** The list, one line per job with its pending recipients below it (as mailq prints them). */
export const renderList = (entries: ReadonlyArray<QueueEntry>, now: number): string => {
  if (entries.length === 0) return "Mail queue is empty (for this selection)."
  const lines = pad([HEADER, ...entries.map((e) => row(e, now))])
  const out = [lines[0]!]
  entries.forEach((e, i) => {
    out.push(lines[i + 1]!)
    if (e.hold)
      out.push(`    held ${iso(e.hold.at)} by ${e.hold.by}${e.hold.reason ? `: ${e.hold.reason}` : ""}`)
    if (e.failedReason !== undefined)
      out.push(
        `    failed: ${e.failedReason}${e.unreadable ? " (sender and recipients unreadable)" : ""}; retry it or delete it`,
      )
    else if (e.unreadable)
      out.push("    job data this version cannot read (sender and recipients unknown); retry it or delete it")
    for (const r of e.pending) out.push(`    ${r}`)
  })
  out.push(`-- ${summary(entries)}`)
  return out.join("\n")
}

const VERB: Record<QueueAction["action"], readonly [done: string, planned: string]> = {
  hold: ["held", "would hold"],
  release: ["released", "would release"],
  retry: ["promoted", "would promote"],
  delete: ["deleted", "would delete"],
  bounce: ["returned", "would return"],
}

const what = (action: QueueAction): string =>
  action.action === "delete"
    ? `delete (${action.notify === "ndr" ? "with NDR" : "silently"})`
    : action.action === "bounce"
      ? `bounce ("${action.reason}")`
      : action.action

export const renderReport = (report: ActionReport, now: number): string => {
  const [done, planned] = VERB[report.action.action]
  const verb = report.dryRun ? planned : done
  const head = `${what(report.action)}${report.dryRun ? " — dry run, nothing changed" : ""}: ${verb} ${report.touched.length} job(s) of ${new Set(report.touched.map((e) => e.messageId)).size} message(s), left ${report.skipped.length}${report.auditId ? ` (audit ${report.auditId})` : ""}`
  const rows = [
    ...report.touched.map((e) => [verb, ...row(e, now)]),
    ...report.skipped.map((s) => [`left: ${s.reason}`, ...row(s.entry, now)]),
  ]
  return rows.length === 0 ? head : [head, ...pad([["ACTION", ...HEADER], ...rows])].join("\n")
}

const isoMs = (t: number | undefined) => (t === undefined ? "-" : new Date(t).toISOString())

/** `queue show`: a message's jobs, each with its recipients' results, what is pending and its log's tail. */
export const renderMessage = (view: MessageView): string => {
  const lines = [`message ${view.messageId} (body ${view.bodyStored ? "in spool" : "removed"})`]
  const tail = (log: ReadonlyArray<string>) => {
    for (const line of log.slice(-10)) lines.push(`    | ${line}`)
  }
  const failed = (reason: string | undefined) => (reason === undefined ? "" : ` (${reason})`)
  for (const job of view.jobs) {
    const d = job.data
    lines.push(
      `  ${d.domain}: ${job.state}${failed(job.failedReason)}, ${d.attemptCount} attempt(s), next ${isoMs(d.nextAttemptAt)}${d.lastFailure ? `, last ${d.lastFailure.code} ${d.lastFailure.status}` : ""}${d.requireTls ? ", requiretls" : ""}${d.tlsRequiredNo ? ", tls-required-no" : ""}`,
    )
    for (const r of d.results)
      lines.push(
        `    ${r.recipient}: ${r.outcome} ${r.status}${r.code ? ` ${r.code}` : ""} at ${isoMs(r.at)}`,
      )
    for (const r of d.pending) lines.push(`    ${r}: pending`)
    tail(job.log)
  }
  for (const job of view.unreadable) {
    lines.push(
      `  ${parseJobId(job.jobId)?.domain ?? job.jobId}: ${job.state}${failed(job.failedReason)}, job data this version cannot read`,
    )
    tail(job.log)
  }
  return lines.join("\n")
}
