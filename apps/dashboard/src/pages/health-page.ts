/** The TLS health page: per partner over the last 24 h, with the last attempt's evidence. */
import type { HealthStatus } from "../dashboard-data"
import { html, type SafeHtml } from "../html"

const byCode = (counts: Readonly<Record<string, number>>) => {
  const entries = Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1))
  return entries.length === 0
    ? html`<span class="muted">—</span>`
    : html`<ul class="codes">${entries.map(([code, n]) => html`<li><span class="code mono">${code}</span> ${n}</li>`)}</ul>`
}

export const healthBody = (status: HealthStatus, now: number): SafeHtml => {
  const rows = status.partners.map((p) => {
    const deferred = Object.values(p.deferred).reduce((a, b) => a + b, 0)
    const bounced = Object.values(p.bounced).reduce((a, b) => a + b, 0)
    const last = p.last
    return html`<tr data-partner="${p.partner}" class="${deferred + bounced > 0 ? "troubled" : ""}">
<td><strong>${p.partner === "-" ? "(no agreement)" : p.partner}</strong></td>
<td>${p.mode ? html`<span class="mode ${p.mode}">${p.mode}</span>` : html`<span class="muted">—</span>`}</td>
<td class="num">${p.delivered}</td>
<td class="num${deferred > 0 ? " warn" : ""}">${deferred}</td>
<td>${byCode(p.deferred)}</td>
<td class="num${bounced > 0 ? " bad" : ""}">${bounced}</td>
<td>${byCode(p.bounced)}</td>
<td>${
      last
        ? html`<div>${new Date(last.at).toISOString()} (${Math.max(0, Math.round((now - last.at) / 60_000))} min ago)</div>
<div>${last.code ? html`<span class="code mono bad">${last.code}</span>` : html`<span class="tag ok">delivered</span>`} ${last.server ? html`via <span class="mono">${last.server}</span>` : ""}</div>
<div class="mono evidence">${last.tls ?? "no TLS evidence (no handshake)"}</div>`
        : html`<span class="muted">—</span>`
    }</td>
</tr>`
  })
  return html`<p>Deliveries, deferrals and bounces per partner over the last 24 hours, counted by the delivery workers; the last column is the most recent attempt's TLS evidence.${
    status.serial === undefined
      ? html` <span class="warn">Partner modes unavailable: no verified policy.</span>`
      : ""
  }</p>
<table id="health">
<thead><tr><th>Partner</th><th>Mode</th><th>Delivered</th><th>Deferred</th><th>Deferrals by code</th><th>Bounced</th><th>Bounces by code</th><th>Last attempt and TLS evidence</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="8">No deliveries in the last 24 hours.</td></tr>`}</tbody>
</table>`
}
