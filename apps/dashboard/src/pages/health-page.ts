/**
 * The TLS health page: per partner over the last 24 h, with the last attempt's evidence; per
 * policy source (who authenticated the hop) over the same window, fleet-wide; and the domains
 * whose DANE or MTA-STS authentication failed, newest first. Domain names come from recipients:
 * like everything else here they are escaped by `html`.
 */
import type { AuthFailure, PolicySource, PolicySourceHealth } from "@mailconnect/delivery-queue"
import type { HealthStatus } from "../dashboard-data"
import { html, type SafeHtml } from "../html"

const SOURCE_LABELS: ReadonlyArray<readonly [PolicySource, string]> = [
  ["partner", "Partner policy"],
  ["dane", "DANE"],
  ["mta-sts", "MTA-STS"],
  ["none", "None (unauthenticated)"],
]

const byCode = (counts: Readonly<Record<string, number>>) => {
  const entries = Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1))
  return entries.length === 0
    ? html`<span class="muted">—</span>`
    : html`<ul class="codes">${entries.map(([code, n]) => html`<li><span class="code mono">${code}</span> ${n}</li>`)}</ul>`
}

const when = (at: number, now: number) =>
  html`${new Date(at).toISOString()} (${Math.max(0, Math.round((now - at) / 60_000))} min ago)`

const partnerTable = (status: HealthStatus, now: number): SafeHtml => {
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
        ? html`<div>${when(last.at, now)}</div>
<div>${last.code ? html`<span class="code mono bad">${last.code}</span>` : html`<span class="tag ok">delivered</span>`} ${last.server ? html`via <span class="mono">${last.server}</span>` : ""}</div>
<div class="mono evidence">${last.tls ?? "no TLS evidence (no handshake)"}</div>`
        : html`<span class="muted">—</span>`
    }</td>
</tr>`
  })
  return html`<table id="health">
<thead><tr><th>Partner</th><th>Mode</th><th>Delivered</th><th>Deferred</th><th>Deferrals by code</th><th>Bounced</th><th>Bounces by code</th><th>Last attempt and TLS evidence</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="8">No deliveries in the last 24 hours.</td></tr>`}</tbody>
</table>`
}

const sourceTable = (counts: PolicySourceHealth["counts"]): SafeHtml =>
  html`<table id="sources">
<thead><tr><th>Policy source</th><th>Delivered</th><th>Deferred</th><th>Bounced</th></tr></thead>
<tbody>${SOURCE_LABELS.map(([source, label]) => {
    const c = counts[source]
    return html`<tr data-source="${source}">
<td><strong>${label}</strong></td>
<td class="num">${c.delivered}</td>
<td class="num${c.deferred > 0 ? " warn" : ""}">${c.deferred}</td>
<td class="num${c.bounced > 0 ? " bad" : ""}">${c.bounced}</td>
</tr>`
  })}</tbody>
</table>`

const authFailureTable = (failures: ReadonlyArray<AuthFailure>, now: number): SafeHtml => {
  const rows = failures.map(
    (f) => html`<tr data-domain="${f.domain}">
<td class="mono domain">${f.domain}</td>
<td><span class="code mono bad">${f.code}</span></td>
<td>${f.source ?? html`<span class="muted">—</span>`}</td>
<td>${when(f.at, now)}</td>
<td class="mono">${f.server ?? html`<span class="muted">—</span>`}</td>
</tr>`,
  )
  return html`<table id="auth-failures">
<thead><tr><th>Domain</th><th>Last failure</th><th>Source</th><th>When</th><th>Server</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="5">No DANE or MTA-STS authentication failures.</td></tr>`}</tbody>
</table>`
}

const day = (t: number) => new Date(t).toISOString().slice(0, 10)

/** Enforced partners: attestation due, each server's certificate and its last change. */
const watchTable = (watch: HealthStatus["watch"]): SafeHtml => {
  const rows = watch.map((p) => {
    const certificates =
      p.certificates.length === 0
        ? html`<span class="muted">not seen yet</span>`
        : html`<ul class="codes">${p.certificates.map(
            (c) =>
              html`<li><span class="mono">${c.server}</span> expires ${day(c.expiresAt)} (${c.daysLeft} d), ${c.certificate.issuer}, <span class="mono">${c.certificate.spkiPin}</span>${
                c.change
                  ? html`<br><span class="warn">changed ${day(c.change.at)}: ${c.change.advice}</span>`
                  : ""
              }</li>`,
          )}</ul>`
    const route = p.route?.note ? html`<br><span class="warn">${p.route.note}</span>` : ""
    return html`<tr data-watch-partner="${p.partner}" class="${p.attention.length > 0 ? "attention" : ""}"><td>${p.partner}</td><td>${p.mode}</td><td>${
      p.attention.length > 0
        ? html`<span class="warn">${p.attention.join(", ")}</span>`
        : html`<span class="muted">—</span>`
    }</td><td>${p.review ? html`${p.review.dueOn} (${p.review.daysLeft} d)` : html`<span class="muted">none</span>`}</td><td>${certificates}${route}</td><td>${p.contacts.map((c) => html`${c.name} &lt;${c.email}&gt;<br>`)}</td></tr>`
  })
  return html`<table id="partner-watch">
<thead><tr><th>Partner</th><th>Mode</th><th>Attention</th><th>Attestation due</th><th>Certificates seen</th><th>Contacts</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="6">No enforced partners in the verified policy.</td></tr>`}</tbody>
</table>`
}

export const healthBody = (status: HealthStatus, now: number): SafeHtml =>
  html`<p>Deliveries, deferrals and bounces per partner over the last 24 hours, counted by the delivery workers; the last column is the most recent attempt's TLS evidence.${
    status.serial === undefined
      ? html` <span class="warn">Partner modes unavailable: no verified policy.</span>`
      : ""
  }</p>
${partnerTable(status, now)}
<h2>Per policy source</h2>
<p>Recipients over the last 24 hours, every domain, by who authenticated the hop of the attempt (attempts that opened no session are not counted).</p>
${sourceTable(status.sources.counts)}
<h2>DANE and MTA-STS authentication failures</h2>
<p>Each domain's most recent failure on a DANE- or MTA-STS-authenticated hop (or a DANE, DNSSEC or MTA-STS verdict), newest first; the last 200 domains, kept 7 days.</p>
${authFailureTable(status.sources.authFailures, now)}
<h2>Certificate and attestation watch</h2>
<p>Enforced partners: the certificate each server presented last (from deliveries), warned 21 days before it expires and when it changed key or issuer; the attestation due date from the policy (<span class="mono">mailconnect partners report</span> lists the contacts to write to).</p>
${watchTable(status.watch)}`
