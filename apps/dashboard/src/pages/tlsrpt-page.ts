/**
 * The "TLS reports received" page: what other organisations' senders report about delivering to
 * our domains (RFC 8460) — per reporting organisation, UTC day and policy domain the successful
 * and failed sessions with failures by result type; the reports received most recently; and the
 * reports refused as unusable. Organisation names, report ids and result types are the reporters'
 * own text: like everything else here they are escaped by `html`.
 */
import type { DailyRow, RejectedCount, ReportSummary } from "@mailconnect/tlsrpt/inbound"
import type { TlsReportsStatus } from "../dashboard-data"
import { html, type SafeHtml } from "../html"

const muted = html`<span class="muted">—</span>`

const byType = (counts: Readonly<Record<string, number>>, unregistered: ReadonlyArray<string> = []) => {
  const entries = Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1))
  return entries.length === 0
    ? muted
    : html`<ul class="codes">${entries.map(
        ([type, n]) =>
          html`<li data-result-type="${type}"><span class="code mono">${type}</span> ${n}${
            unregistered.includes(type) ? html` <span class="muted">(unregistered)</span>` : ""
          }</li>`,
      )}</ul>`
}

const dailyTable = (rows: ReadonlyArray<DailyRow>): SafeHtml =>
  html`<table id="tlsrpt-daily">
<thead><tr><th>Day (UTC)</th><th>Reporting organisation</th><th>Policy domain</th><th>Reports</th><th>Successful sessions</th><th>Failed sessions</th><th>Failures by result type</th></tr></thead>
<tbody>${
    rows.length > 0
      ? rows.map(
          (
            r,
          ) => html`<tr data-day="${r.day}" data-organization="${r.organization}" data-domain="${r.policyDomain}" class="${r.failed > 0 ? "troubled" : ""}">
<td class="mono">${r.day}</td>
<td><strong>${r.organization}</strong></td>
<td class="mono domain">${r.policyDomain}</td>
<td class="num">${r.reports}</td>
<td class="num">${r.successful}</td>
<td class="num${r.failed > 0 ? " bad" : ""}">${r.failed}</td>
<td>${byType(r.failuresByType)}</td>
</tr>`,
        )
      : html`<tr><td colspan="7">No TLS reports received in the retention window.</td></tr>`
  }</tbody>
</table>`

const recentTable = (reports: ReadonlyArray<ReportSummary>): SafeHtml =>
  html`<table id="tlsrpt-recent">
<thead><tr><th>Received</th><th>Organisation</th><th>Report id</th><th>Via</th><th>Date range</th><th>Policies</th><th>Successful</th><th>Failed</th><th>Failures by result type</th></tr></thead>
<tbody>${
    reports.length > 0
      ? reports.map(
          (r) => html`<tr data-report-id="${r.reportId}" data-organization="${r.organization}">
<td class="mono">${new Date(r.receivedAt).toISOString()}</td>
<td><strong>${r.organization}</strong><div class="muted mono">${r.contactInfo}</div></td>
<td class="mono">${r.reportId}</td>
<td>${r.via}</td>
<td class="mono">${r.start} – ${r.end}</td>
<td><ul class="codes">${r.policies.map(
            (p) =>
              html`<li><span class="mono domain">${p.domain}</span> <span class="tag">${p.type}</span></li>`,
          )}</ul></td>
<td class="num">${r.successful}</td>
<td class="num${r.failed > 0 ? " bad" : ""}">${r.failed}</td>
<td>${byType(r.failuresByType, r.unregisteredTypes)}</td>
</tr>`,
        )
      : html`<tr><td colspan="9">No reports yet.</td></tr>`
  }</tbody>
</table>`

const REASONS: Readonly<Record<RejectedCount["reason"], string>> = {
  "too-large": "too large",
  "media-type": "not a report media type",
  undecodable: "not decodable (gzip, UTF-8 or JSON)",
  invalid: "not an RFC 8460 report (schema)",
  "mail-without-report": "mail without a single report part",
  "not-our-domain": "about none of our domains",
}

const rejectedTable = (rejected: ReadonlyArray<RejectedCount>): SafeHtml =>
  rejected.length === 0
    ? html`<p id="tlsrpt-rejected" class="muted">No reports refused.</p>`
    : html`<table id="tlsrpt-rejected">
<thead><tr><th>Day received (UTC)</th><th>Via</th><th>Reason</th><th>Reports</th></tr></thead>
<tbody>${rejected.map(
        (r) => html`<tr data-reason="${r.reason}" data-via="${r.via}">
<td class="mono">${r.day}</td><td>${r.via}</td><td>${REASONS[r.reason]}</td><td class="num bad">${r.count}</td>
</tr>`,
      )}</tbody>
</table>`

export const tlsReportsBody = (status: TlsReportsStatus): SafeHtml =>
  html`<p>SMTP TLS reports (RFC 8460) that other organisations' mail servers sent about delivering to our domains, received by mail or HTTPS, validated and kept ${status.retentionDays} days. Sessions are counted on the UTC day a report covers; a report sent twice is counted once.</p>
${
  Object.keys(status.daily.overflow).length > 0
    ? html`<p class="warn">Days with more reporters than kept: ${Object.entries(status.daily.overflow).map(([day, n]) => html`${day} (${n} reports not counted per day) `)}</p>`
    : ""
}
${dailyTable(status.daily.rows)}
<h2>Recent reports</h2>
<p>The newest ${status.recent.length} reports, newest first.</p>
${recentTable(status.recent)}
<h2>Refused reports</h2>
<p>Reports that arrived but could not be used, by the day they arrived; the sender was told (HTTPS) or the mail was accepted and dropped (mail).</p>
${rejectedTable(status.rejected)}`
