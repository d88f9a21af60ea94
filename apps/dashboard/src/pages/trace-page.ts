/**
 * The message trace page (`/trace`): a search form with the filters of `mailconnect trace`, the
 * matching messages one row per recipient (where each stands now), and one message's lines —
 * its acceptance, every attempt with its TLS evidence (protocol, cipher, the peer's certificate,
 * the verification verdict) and its DSNs. Read-only, no scripts. Every value (addresses, replies,
 * certificate subjects) comes from outside and is escaped by `html` like everything.
 */
import type { MessageSummary, RecipientTrace, TraceLine, TraceSearchResult } from "@mailconnect/message-trace"
import { summarize } from "@mailconnect/message-trace"
import { html, type SafeHtml } from "../html"

/** The form's fields as typed, carried back into the form. */
export interface TraceFields {
  readonly from: string
  readonly to: string
  readonly messageId: string
  readonly queueId: string
  readonly partner: string
  readonly code: string
  readonly since: string
  readonly until: string
}

export const TRACE_FIELDS: ReadonlyArray<readonly [keyof TraceFields, string, string, string]> = [
  ["from", "from", "Sender", "alice@customer.example or a domain"],
  ["to", "to", "Recipient", "bob@bank.example or a domain"],
  ["messageId", "message-id", "Message-ID", ""],
  ["queueId", "queue-id", "Queue id", ""],
  ["partner", "partner", "Partner", ""],
  ["code", "code", "Code", "CERT_EXPIRED"],
  ["since", "since", "Since", "2d or an ISO time"],
  ["until", "until", "Until", "ISO time"],
]

export interface TracePageView {
  readonly fields: TraceFields
  readonly result: TraceSearchResult
  /** The message chosen with the queue id: its summary and lines. */
  readonly selected?: { readonly summary: MessageSummary; readonly lines: ReadonlyArray<TraceLine> }
  readonly problem?: string
}

type LogTls = NonNullable<RecipientTrace["tls"]>
type Of<E extends TraceLine["event"]> = Extract<TraceLine, { readonly event: E }>

const time = (iso: string) => iso.replace(/\.\d{3}Z$/, "Z")
const sender = (s: string) => (s === "" ? "<>" : s)
const traceLink = (queueId: string) => `/trace?queue-id=${encodeURIComponent(queueId)}`

const form = (f: TraceFields): SafeHtml =>
  html`<form method="get" action="/trace" id="trace-search" class="queue-form">${TRACE_FIELDS.map(
    ([key, name, label, placeholder]) =>
      html`<label>${label} <input name="${name}" value="${f[key]}"${placeholder ? html` placeholder="${placeholder}"` : ""}></label>`,
  )}<button type="submit">Search</button></form>`

const statusTag = (status: string) =>
  html`<span class="tag ${status === "delivered" ? "ok" : status === "bounced" ? "bad" : "warn"}">${status}</span>`

const resultRows = (m: MessageSummary): ReadonlyArray<SafeHtml> =>
  (m.recipients.length === 0 ? [undefined] : m.recipients).map(
    (
      r,
    ) => html`<tr data-queue-id="${m.queueId}" data-recipient="${r?.address ?? ""}" data-status="${r?.status ?? ""}">
<td class="mono">${time(r?.at ?? m.lastAt)}</td>
<td class="mono"><a href="${traceLink(m.queueId)}">${m.queueId}</a></td>
<td class="mono sender">${sender(m.sender)}</td>
<td class="mono">${r?.address ?? "—"}</td>
<td>${r ? statusTag(r.status) : "—"}</td>
<td class="mono code">${r?.code ?? "—"}</td>
<td>${r?.partner ?? "—"}</td>
<td class="num">${r?.attempts ?? 0}</td>
<td class="mono">${m.messageId ?? "—"}</td>
</tr>`,
  )

const results = (result: TraceSearchResult): SafeHtml =>
  html`<table id="trace-results"><thead><tr><th>Time</th><th>Queue id</th><th>Sender</th><th>Recipient</th><th>Status</th><th>Code</th><th>Partner</th><th>Tries</th><th>Message-ID</th></tr></thead><tbody>${
    result.records.length > 0
      ? result.records.map(summarize).flatMap(resultRows)
      : html`<tr><td colspan="9" class="none">No messages match.</td></tr>`
  }</tbody></table>${
    result.complete
      ? ""
      : html`<p class="muted" id="trace-more">More messages may match: narrow the search (${result.scanned} index entries looked at).</p>`
  }`

const facts = (rows: ReadonlyArray<readonly [string, string | undefined]>): SafeHtml =>
  html`<dl class="facts">${rows
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => html`<dt>${k}</dt><dd class="mono" data-fact="${k}">${v}</dd>`)}</dl>`

/** The TLS evidence of an attempt, field by field (structured data, never a parsed summary). */
const tlsEvidence = (tls: LogTls | null | undefined): SafeHtml => {
  if (tls === undefined) return html`<p class="muted tls" data-tls="none">No session was opened.</p>`
  if (tls === null) return html`<p class="bad tls" data-tls="plaintext">Plaintext: no TLS.</p>`
  const v = tls.verification
  return html`<div class="evidence tls" data-tls="${tls.protocol ?? ""}" data-verified="${v ? String(v.ok) : ""}">${facts(
    [
      ["protocol", tls.protocol ?? undefined],
      ["cipher", tls.cipher],
      ["resumed", tls.resumed ? "yes" : undefined],
      ["our certificate", tls.clientCertificate],
      ["peer subject", tls.peer?.subject],
      ["peer issuer", tls.peer?.issuer],
      ["peer names", tls.peer?.subjectAltNames.join(", ")],
      ["peer not after", tls.peer?.notAfter],
      ["peer pin", tls.peer?.spkiPin],
      ["verification", v === undefined ? undefined : v.ok ? "ok" : `failed: ${v.failure ?? "?"}`],
      ["findings", v?.findings.join(", ")],
      ["matched name", v?.matchedName],
      ["matched pin", v?.matchedPin],
    ],
  )}</div>`
}

const sessionInSection = (l: Of<"session-in">): SafeHtml =>
  html`<section class="trace-line" data-event="session-in"><h3>${time(l.at)} accepted by ${l.relay}</h3>${facts(
    [
      ["listener", l.listener],
      ["client", `${l.client.address} (${l.client.helo})`],
      ["user", l.user],
      ["connector", l.connector],
      ["tls", l.tls ? `${l.tls.protocol} ${l.tls.cipher}` : "plaintext"],
      ["sender", sender(l.sender)],
      ["recipients", l.recipients.join(", ")],
      ["size", `${l.size} bytes`],
      ["requiretls", l.requireTls ? "yes" : undefined],
    ],
  )}</section>`

const attemptSection = (l: Of<"attempt">): SafeHtml =>
  html`<section class="trace-line" data-event="attempt" data-attempt="${l.attempt}" data-result="${l.result}"><h3>${time(l.at)} attempt ${l.attempt} to ${l.domain} by ${l.relay}: ${statusTag(l.result)}</h3>${facts(
    [
      ["partner", l.partner],
      ["policy source", l.source],
      ["server", l.server],
      ["code", l.code],
      ["bundle serial", String(l.bundleSerial)],
      ["next attempt", l.nextAttemptAt ? time(l.nextAttemptAt) : undefined],
    ],
  )}
<table class="trace-recipients"><thead><tr><th>Recipient</th><th>Outcome</th><th>Status</th><th>Reply</th></tr></thead><tbody>${l.recipients.map(
    (r) =>
      html`<tr data-recipient="${r.address}"><td class="mono">${r.address}</td><td>${statusTag(r.outcome)}</td><td class="mono">${r.status}</td><td class="mono reply">${r.reply ?? ""}</td></tr>`,
  )}</tbody></table>
${tlsEvidence(l.tls)}</section>`

const dsnSection = (l: Of<"dsn">): SafeHtml =>
  html`<section class="trace-line" data-event="dsn" data-kind="${l.kind}"><h3>${time(l.at)} ${l.kind} DSN to ${sender(l.to)}</h3>${facts(
    [
      ["DSN queue id", l.dsnQueueId],
      [
        "recipients",
        l.recipients.map((r) => `${r.address} ${r.status}${r.code ? ` ${r.code}` : ""}`).join(", "),
      ],
    ],
  )}<p><a href="${traceLink(l.dsnQueueId)}">Trace the DSN</a></p></section>`

const lineSection = (l: TraceLine): SafeHtml =>
  l.event === "session-in" ? sessionInSection(l) : l.event === "attempt" ? attemptSection(l) : dsnSection(l)

const messageSection = (m: MessageSummary, lines: ReadonlyArray<TraceLine>): SafeHtml =>
  html`<h2 id="trace-message" data-queue-id="${m.queueId}">Message ${m.queueId}${m.messageId ? html` <span class="mono muted">&lt;${m.messageId}&gt;</span>` : ""}</h2>
${lines.map(lineSection)}`

export const traceBody = (view: TracePageView): SafeHtml =>
  html`${form(view.fields)}
${view.problem ? html`<p class="banner bad" id="trace-problem">${view.problem}</p>` : ""}
<p id="trace-summary">${view.result.records.length} message(s).</p>
${results(view.result)}
${view.selected ? messageSection(view.selected.summary, view.selected.lines) : ""}`
