/** What a page shows when its data cannot be read: the failure's tag and detail, escaped. */
import type { DataFailure } from "../dashboard-data"
import { html, type SafeHtml } from "../html"

const EXPLAIN: Record<string, string> = {
  BundleNotPublished: "No policy bundle has been published under this Redis prefix yet.",
  BundleUnverified:
    "The bundle the policy pointer names did not pass verification with the trusted keys; relays refuse it too.",
  RedisCommandError: "Redis did not answer.",
  QueueUnavailable: "Redis did not answer.",
  PointerMalformed: "The policy pointer in Redis is malformed.",
}

export const failureBody = (failure: DataFailure): SafeHtml => {
  const fields = Object.entries(failure as unknown as Record<string, unknown>).filter(
    ([k, v]) => k !== "_tag" && (typeof v === "string" || typeof v === "number"),
  )
  return html`<div class="banner bad" id="failure" data-failure="${failure._tag}">
<p><strong class="mono">${failure._tag}</strong> — ${EXPLAIN[failure._tag] ?? "The data for this page could not be read."}</p>
${fields.length > 0 ? html`<dl class="facts">${fields.map(([k, v]) => html`<dt>${k}</dt><dd class="mono">${String(v)}</dd>`)}</dl>` : ""}
</div>`
}

/** HTTP status for a failure: "nothing published" is a state, not an outage. */
export const failureStatus = (failure: DataFailure): number =>
  failure._tag === "BundleNotPublished" ? 200 : failure._tag === "BundleUnverified" ? 500 : 503
