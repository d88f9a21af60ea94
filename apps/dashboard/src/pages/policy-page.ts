/** The policy page: the active (verified) bundle and each partner's review and expiry dates. */
import { html, type SafeHtml } from "../html"
import type { DatedItem, PolicyStatus } from "../policy-status"

const LABEL: Record<DatedItem["state"], string> = {
  overdue: "overdue",
  soon: "due soon",
  ok: "",
  none: "",
}

const dated = (item: DatedItem, kind: "review" | "expiry") => {
  if (item.date === undefined) return html`<td class="none">—</td>`
  const label = item.state === "overdue" && kind === "expiry" ? "expired" : LABEL[item.state]
  return html`<td class="date ${item.state}" data-state="${item.state}"><span class="mono">${item.date.slice(0, 10)}</span>${
    label ? html` <span class="tag">${label}</span>` : ""
  }</td>`
}

export const policyBody = (status: PolicyStatus): SafeHtml =>
  html`<dl class="facts">
<dt>Active serial</dt><dd class="mono" id="active-serial">${status.serial}</dd>
<dt>Published</dt><dd>${status.publishedAt}${status.publishedBy ? html` by <strong>${status.publishedBy}</strong>` : html` <span class="muted">(publisher not recorded)</span>`}</dd>
<dt>Source commit</dt><dd class="mono">${status.commit}</dd>
<dt>Compiled</dt><dd>${status.createdAt}</dd>
<dt>Digest</dt><dd class="mono">${status.digest}</dd>
<dt>Signed by key</dt><dd class="mono">${status.keyId} <span class="tag ok">verified</span></dd>
</dl>
${
  status.attention > 0
    ? html`<p class="banner bad" id="attention">${status.attention} partner(s) need attention: review overdue or due, or a certificate expired or expiring.</p>`
    : html`<p class="banner ok" id="attention">No review or certificate needs attention.</p>`
}
<table id="partners">
<thead><tr><th>Partner</th><th>Mode</th><th>Domains</th><th>Next review</th><th>CA expires</th><th>Certificate expires</th><th>Pins</th></tr></thead>
<tbody>${status.partners.map(
    (p) => html`<tr data-partner="${p.name}">
<td><strong>${p.name}</strong></td>
<td><span class="mode ${p.mode}">${p.mode}</span></td>
<td class="mono">${p.domains.join(", ")}</td>
${dated(p.review, "review")}
${dated(p.caExpiry, "expiry")}
${dated(p.certificateExpiry, "expiry")}
<td>${p.pins > 0 ? p.pins : "—"}</td>
</tr>`,
  )}</tbody>
</table>`
