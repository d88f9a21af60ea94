/**
 * Rules about one partner on its own: agreement and contacts, mtls client certificate, pins,
 * legacy TLS acknowledgement, route servers, the certificate review and the retry timeline.
 */
import { parseDuration } from "@mailconnect/policy"
import { isWellFormedPin } from "../certificates"
import type { Diagnostic } from "../diagnostic"
import { parseAddress } from "../source/address"
import type { DefaultsDoc } from "../source/schema"
import { diagnosticAt } from "../source/validate"
import type { PartnerSource } from "./sources"

const LEGACY_VERSIONS = new Set(["TLSv1", "TLSv1.1"])
const DAY_MS = 86_400_000

export const effectiveMode = (partner: PartnerSource, defaults: DefaultsDoc | undefined) =>
  partner.doc.tls?.mode ?? defaults?.tls.mode ?? "opportunistic"

/** attestedOn + every, as `YYYY-MM-DD`. */
export const reviewDueOn = (attestedOn: string, every: string): string =>
  new Date(Date.parse(`${attestedOn}T00:00:00Z`) + parseDuration(every)!).toISOString().slice(0, 10)

export const checkPartner = (
  partner: PartnerSource,
  defaults: DefaultsDoc | undefined,
  now: Date,
): Array<Diagnostic> => {
  const { doc, file } = partner
  const out: Array<Diagnostic> = []
  const mode = effectiveMode(partner, defaults)
  const at = diagnosticAt.bind(null, file)

  if (mode !== "opportunistic" && (doc.agreement?.technicalContacts?.length ?? 0) === 0)
    out.push(
      at(
        doc.agreement ? ["agreement"] : ["tls", "mode"],
        "AGREEMENT-CONTACT-MISSING",
        `partner "${doc.name}" uses ${mode} but its agreement names no technical contact`,
        "add agreement.technicalContacts with at least one name and email",
      ),
    )

  if (mode === "mtls" && !doc.tls?.clientCertificate)
    out.push(
      at(
        ["tls", "mode"],
        "MTLS-CLIENT-CERT-MISSING",
        `partner "${doc.name}" uses mtls but names no client certificate`,
        "add tls.clientCertificate: <name of the relay client certificate>",
      ),
    )

  const pins = doc.tls?.verify?.pins ?? []
  pins.forEach((pin, i) => {
    if (!isWellFormedPin(pin))
      out.push(
        at(
          ["tls", "verify", "pins", i],
          "PIN-MALFORMED",
          `pin "${pin}" is not sha256/<base64 SPKI digest>`,
          "compute it with: openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
        ),
      )
  })
  if (doc.tls?.verify?.trust === "pins" && pins.length === 0)
    out.push(
      at(
        ["tls", "verify", "trust"],
        "PINS-REQUIRED",
        "verify.trust is pins but no pin is listed",
        "add tls.verify.pins, or use trust: pkix",
      ),
    )

  // An inherited legacy default is reported once, at the Defaults document.
  const minVersion = doc.tls?.minVersion
  if (minVersion && LEGACY_VERSIONS.has(minVersion) && !doc.agreement?.legacyTls)
    out.push(
      at(
        ["tls", "minVersion"],
        "TLS-LEGACY-UNACKNOWLEDGED",
        `minVersion ${minVersion} is below TLSv1.2 (deprecated by RFC 8996)`,
        "raise it to TLSv1.2, or record agreement.legacyTls.reason",
      ),
    )

  ;(doc.route?.servers ?? []).forEach((server, i) => {
    const parsed = parseAddress(server)
    if ("problem" in parsed)
      out.push(
        at(
          ["route", "servers", i],
          "ROUTE-SERVER-INVALID",
          `route server "${server}" has an invalid ${parsed.problem === "port" ? "port" : "host"}`,
          "write host[:port], e.g. mx1.partner.example:25 or [2001:db8::25]:25",
        ),
      )
  })

  const review = doc.tls?.review
  if (review) {
    const dueOn = reviewDueOn(review.attestedOn, review.every)
    const today = now.toISOString().slice(0, 10)
    if (today > dueOn) {
      const days = Math.floor((Date.parse(`${today}T00:00:00Z`) - Date.parse(`${dueOn}T00:00:00Z`)) / DAY_MS)
      out.push(
        at(
          ["tls", "review", "attestedOn"],
          "REVIEW-OVERDUE",
          `certificate review of partner "${doc.name}" was due on ${dueOn} (${days} days ago)`,
          "confirm the partner's certificates with them and update tls.review.attestedOn",
          { severity: "warning" },
        ),
      )
    }
  }

  if (doc.retry) out.push(...checkRetry(partner, defaults))
  return out
}

/** A timeline that is not increasing, or warns only after giving up, is a typo. */
export const retryProblem = (retry: {
  readonly schedule: ReadonlyArray<number>
  readonly every: number
  readonly warnAfter: number
  readonly expireAfter: number
}): string | undefined => {
  for (let i = 1; i < retry.schedule.length; i++)
    if (retry.schedule[i]! <= retry.schedule[i - 1]!) return "schedule is not strictly increasing"
  if (retry.every <= 0) return "every must be positive"
  if (retry.warnAfter >= retry.expireAfter) return "warnAfter is not before expireAfter"
  return undefined
}

const checkRetry = (partner: PartnerSource, defaults: DefaultsDoc | undefined): Array<Diagnostic> => {
  if (!defaults) return []
  const own = partner.doc.retry!
  const ms = (text: string) => parseDuration(text)!
  const problem = retryProblem({
    schedule: (own.schedule ?? defaults.retry.schedule).map(ms),
    every: ms(own.every ?? defaults.retry.every),
    warnAfter: ms(own.warnAfter ?? defaults.retry.warnAfter),
    expireAfter: ms(own.expireAfter ?? defaults.retry.expireAfter),
  })
  return problem
    ? [
        diagnosticAt(
          partner.file,
          ["retry"],
          "RETRY-TIMELINE-INVALID",
          `retry timeline of partner "${partner.doc.name}" (with defaults): ${problem}`,
          "fix retry so the schedule increases and warnAfter < expireAfter",
        ),
      ]
    : []
}
