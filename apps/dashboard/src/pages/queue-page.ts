/**
 * The queue page (`/queue`): queued mail mailq-style with the same filters as `mailconnect queue
 * list`, the recent entries of the fleet's audit stream, and — for the admin role only — the
 * management actions in two steps: a form asks for a preview (a dry run), the preview lists
 * exactly what would be touched and asks for confirmation, and only the confirmation acts (on
 * the previewed messages, still matching the filter). No scripts: plain forms, posted same-origin.
 * Addresses, reasons and replies come from outside and are escaped by `html` like everything.
 */
import {
  type ActionReport,
  type AuditRecord,
  QUEUE_STATES,
  type QueueAction,
  type QueueEntry,
  type Skipped,
} from "@mailconnect/delivery-queue"
import { html, type SafeHtml } from "../html"

/** The filter form's fields, as text (what the operator typed), carried from page to page. */
export interface QueueFilterFields {
  readonly partner: string
  readonly domain: string
  readonly code: string
  readonly older: string
  readonly state: string
}

export interface QueuePageView {
  readonly fields: QueueFilterFields
  readonly entries: ReadonlyArray<QueueEntry>
  readonly audit: ReadonlyArray<AuditRecord>
  readonly admin: boolean
  /** A filter the page could not read (shown above the list, which is then unfiltered). */
  readonly problem?: string
}

const iso = (t: number | undefined) =>
  t === undefined ? "—" : new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z")

const age = (ms: number): string =>
  ms >= 86_400_000
    ? `${Math.floor(ms / 86_400_000)}d`
    : ms >= 3_600_000
      ? `${Math.floor(ms / 3_600_000)}h`
      : `${Math.max(0, Math.floor(ms / 60_000))}m`

const filterInputs = (f: QueueFilterFields, hidden: boolean): SafeHtml =>
  hidden
    ? html`${(["partner", "domain", "code", "older", "state"] as const).map(
        (k) => html`<input type="hidden" name="${k}" value="${f[k]}">`,
      )}`
    : html`<label>Partner <input name="partner" value="${f.partner}"></label>
<label>Recipient domain <input name="domain" value="${f.domain}"></label>
<label>Code <input name="code" value="${f.code}" placeholder="CERT_PIN_MISMATCH"></label>
<label>Older than <input name="older" value="${f.older}" placeholder="2h"></label>
<label>State <select name="state"><option value="">any</option>${QUEUE_STATES.map(
        (s) => html`<option value="${s}"${f.state === s ? html` selected` : ""}>${s}</option>`,
      )}</select></label>`

const entryRow = (e: QueueEntry, now: number, lead?: SafeHtml): SafeHtml =>
  html`<tr data-job="${e.jobId}" data-state="${e.state}">
${lead ?? ""}<td class="mono">${e.messageId}</td>
<td class="mono domain">${e.domain}</td>
<td><span class="tag state-${e.state}">${e.state}</span>${
    e.hold
      ? html`<div class="muted hold">by ${e.hold.by} ${iso(e.hold.at)}${e.hold.reason ? html`: ${e.hold.reason}` : ""}</div>`
      : ""
  }${
    e.failedReason !== undefined
      ? html`<div class="muted failed">${e.failedReason}${e.unreadable ? " (data unreadable)" : ""}</div>`
      : e.unreadable
        ? html`<div class="muted failed">data unreadable</div>`
        : ""
  }</td>
<td class="num">${age(now - e.queuedAt)}</td>
<td class="num">${e.attempts}</td>
<td class="mono">${e.state === "held" ? "on hold" : e.state === "failed" ? "never" : iso(e.nextAttemptAt)}</td>
<td class="mono code">${e.code ?? "—"}</td>
<td>${e.partner ?? "—"}</td>
<td class="mono">${e.unreadable ? "?" : e.sender === "" ? "<>" : e.sender}</td>
<td class="mono">${e.pending.join(", ")}</td>
</tr>`

const HEAD = html`<th>Message</th><th>Domain</th><th>State</th><th>Age</th><th>Tries</th><th>Next attempt</th><th>Last code</th><th>Partner</th><th>Sender</th><th>Pending recipients</th>`

const entryTable = (id: string, entries: ReadonlyArray<QueueEntry>, now: number): SafeHtml =>
  html`<table id="${id}"><thead><tr>${HEAD}</tr></thead><tbody>${
    entries.length > 0
      ? entries.map((e) => entryRow(e, now))
      : html`<tr><td colspan="10" class="none">No queued mail matches.</td></tr>`
  }</tbody></table>`

const actionForm = (f: QueueFilterFields): SafeHtml =>
  html`<form method="post" action="/queue/preview" id="queue-action" class="queue-form">
${filterInputs(f, true)}
<label>Action <select name="action">
<option value="hold">hold</option><option value="release">release</option><option value="retry">retry now</option>
<option value="delete">delete</option><option value="bounce">bounce (return to sender)</option>
</select></label>
<label>Delete tells <select name="notify"><option value="">— choose for delete —</option><option value="ndr">the sender (NDR)</option><option value="silent">nobody (silent)</option></select></label>
<label>Reason <input name="reason" size="40" placeholder="required for bounce"></label>
<button type="submit">Preview</button>
<p class="muted">Acts on the mail listed above (the filter as shown). A preview comes first; nothing changes until you confirm.</p>
</form>`

const auditTable = (records: ReadonlyArray<AuditRecord>): SafeHtml =>
  html`<table id="queue-audit"><thead><tr><th>When</th><th>Who</th><th>Via</th><th>Action</th><th>Selection</th><th>Touched</th><th>Left</th><th>Messages</th></tr></thead><tbody>${
    records.length > 0
      ? records.map(
          (r) => html`<tr data-audit="${r.id}" data-action="${r.action}">
<td class="mono">${iso(r.at)}</td><td>${r.actor}</td><td>${r.via}</td>
<td>${r.action}${r.notify ? ` (${r.notify})` : ""}${r.reason ? html`<div class="muted">${r.reason}</div>` : ""}</td>
<td class="mono">${JSON.stringify(r.selection)}</td>
<td class="num">${r.touched}</td><td class="num">${r.skipped}</td>
<td class="mono">${r.messageIds.join(" ")}</td></tr>`,
        )
      : html`<tr><td colspan="8" class="none">No queue actions recorded yet.</td></tr>`
  }</tbody></table>`

export const queueBody = (view: QueuePageView, now: number): SafeHtml => {
  const messages = new Set(view.entries.map((e) => e.messageId)).size
  return html`<form method="get" action="/queue" id="queue-filter" class="queue-form">${filterInputs(view.fields, false)}<button type="submit">Filter</button></form>
${view.problem ? html`<p class="banner bad" id="queue-problem">${view.problem}</p>` : ""}
<p id="queue-summary">${view.entries.length} job(s), ${messages} message(s).</p>
${entryTable("queue-list", view.entries, now)}
${view.admin ? actionForm(view.fields) : html`<p class="muted" id="queue-viewer">Queue actions need the admin role.</p>`}
<h2>Recent queue actions (audit)</h2>
${auditTable(view.audit)}`
}

const describeAction = (a: QueueAction): string =>
  a.action === "delete"
    ? `delete (${a.notify === "ndr" ? "with an NDR to the sender" : "silently"})`
    : a.action === "bounce"
      ? "bounce (return to sender)"
      : a.action === "retry"
        ? "retry now"
        : a.action

const skippedTable = (skipped: ReadonlyArray<Skipped>, now: number): SafeHtml =>
  skipped.length === 0
    ? html``
    : html`<h2>Left alone</h2><table id="queue-skipped"><thead><tr><th>Why</th>${HEAD}</tr></thead><tbody>${skipped.map(
        (s) => entryRow(s.entry, now, html`<td class="mono">${s.reason}</td>`),
      )}</tbody></table>`

/** The confirmation step: the dry run's plan, and a form that acts on exactly those messages. */
export const previewBody = (report: ActionReport, fields: QueueFilterFields, now: number): SafeHtml => {
  const a = report.action
  const ids = [...new Set(report.touched.map((e) => e.messageId))]
  return html`<p class="banner warn" id="queue-preview" data-action="${a.action}" data-count="${report.touched.length}">
Preview (nothing changed yet): <strong>${describeAction(a)}</strong> would touch ${report.touched.length} job(s) of ${ids.length} message(s)${"reason" in a && a.reason ? html`, reason “${a.reason}”` : ""}.</p>
${entryTable("queue-would-touch", report.touched, now)}
${skippedTable(report.skipped, now)}
${
  ids.length > 0
    ? html`<form method="post" action="/queue/act" id="queue-confirm" class="queue-form">
${filterInputs(fields, true)}
<input type="hidden" name="ids" value="${ids.join(" ")}">
<input type="hidden" name="action" value="${a.action}">
<input type="hidden" name="notify" value="${a.action === "delete" ? a.notify : ""}">
<input type="hidden" name="reason" value="${"reason" in a ? (a.reason ?? "") : ""}">
<input type="hidden" name="confirm" value="yes">
<button type="submit" class="danger">Confirm: ${describeAction(a)} ${report.touched.length} job(s)</button>
<a href="/queue">Cancel</a>
</form>`
    : html`<p id="queue-nothing">Nothing to do. <a href="/queue">Back to the queue</a></p>`
}`
}

export const resultBody = (report: ActionReport, now: number): SafeHtml =>
  html`<p class="banner ok" id="queue-result" data-action="${report.action.action}" data-count="${report.touched.length}" data-audit="${report.auditId ?? ""}">
Done: <strong>${describeAction(report.action)}</strong> touched ${report.touched.length} job(s); left ${report.skipped.length}.${report.auditId ? ` Audit entry ${report.auditId}.` : " The audit stream could not be written; the dashboard log has the record."}</p>
${entryTable("queue-touched", report.touched, now)}
${skippedTable(report.skipped, now)}
<p><a href="/queue">Back to the queue</a></p>`

/** A form the page cannot act on (unknown action, missing reason, no filter). */
export const refusedBody = (problem: string): SafeHtml =>
  html`<p class="banner bad" id="queue-refused">${problem}</p><p><a href="/queue">Back to the queue</a></p>`
