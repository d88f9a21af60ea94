/** The fleet page: each live relay and whether the fleet runs the published serial. */
import type { FleetStatus } from "../fleet-status"
import { ago, html, type SafeHtml } from "../html"

export const fleetBody = (status: FleetStatus, now: number): SafeHtml => {
  const summary =
    status.currentSerial === undefined
      ? html`<p class="banner warn" id="convergence">No bundle has been published yet.</p>`
      : status.relays.length === 0
        ? html`<p class="banner warn" id="convergence">No live relays.</p>`
        : status.converged
          ? html`<p class="banner ok" id="convergence" data-converged="true">Converged: all ${status.relays.length} relay(s) run serial ${status.currentSerial}.</p>`
          : html`<p class="banner bad" id="convergence" data-converged="false">Not converged: ${status.behind.length} of ${status.relays.length} relay(s) not on serial ${status.currentSerial} (${status.behind.join(", ")}).</p>`
  const rows = status.relays.map((r) => {
    const onCurrent = r.bundle !== null && r.bundle.serial === status.currentSerial
    const state = r.draining ? "draining" : r.bundle ? "ready" : "no bundle"
    return html`<tr data-relay="${r.relayId}" class="${onCurrent ? "" : "behind"}">
<td class="mono">${r.relayId}</td>
<td>${r.version}</td>
<td>${r.roles.join(", ")}</td>
<td class="mono serial${onCurrent ? " ok" : " bad"}">${r.bundle ? r.bundle.serial : "none"}</td>
<td class="mono" title="${r.bundle?.digest ?? ""}">${r.bundle ? r.bundle.digest.slice(0, 19) : "-"}</td>
<td class="${r.draining ? "warn" : ""}">${state}</td>
<td>${r.draining ? "yes" : "no"}</td>
<td title="${r.updatedAt}">${ago(now, r.updatedAt)}</td>
<td class="mono">${r.hostname} (pid ${r.pid})</td>
</tr>`
  })
  return html`${summary}
<p>Published serial: <strong class="mono" id="current-serial">${status.currentSerial ?? "none"}</strong>${
    status.publishedAt ? html` (published ${status.publishedAt})` : ""
  }</p>
<table id="relays">
<thead><tr><th>Relay</th><th>Version</th><th>Roles</th><th>Serial</th><th>Digest</th><th>State</th><th>Draining</th><th>Last heartbeat</th><th>Host</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="9">No live relays.</td></tr>`}</tbody>
</table>
${
  status.unreadable.length > 0
    ? html`<h2>Unreadable heartbeats</h2><ul class="bad">${status.unreadable.map((u) => html`<li class="mono">${u}</li>`)}</ul>`
    : ""
}`
}
