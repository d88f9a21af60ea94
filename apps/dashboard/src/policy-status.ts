/**
 * The policy page's data, computed from a verified bundle payload: per partner its TLS mode,
 * the next certificate review and the CA / certificate expiry dates, each classified against
 * "now" so the page can highlight what needs an operator. Pure: the clock is an argument.
 */
import type { BundlePayload, EmbeddedCertificate, Partner, TlsMode } from "@mailconnect/policy"

/** Within this many days a review or an expiry counts as "soon". */
export const SOON_DAYS = 30
const DAY = 86_400_000

export type DateState = "overdue" | "soon" | "ok" | "none"

export interface DatedItem {
  /** `YYYY-MM-DD` (reviews) or an ISO instant (certificates); undefined when not on file. */
  readonly date: string | undefined
  readonly state: DateState
}

export interface PartnerRow {
  readonly name: string
  readonly mode: TlsMode
  readonly domains: ReadonlyArray<string>
  readonly review: DatedItem
  readonly caExpiry: DatedItem
  readonly certificateExpiry: DatedItem
  readonly pins: number
}

export interface PolicyStatus {
  readonly serial: number
  readonly digest: string
  readonly keyId: string
  readonly createdAt: string
  readonly publishedAt: string
  readonly publishedBy: string | undefined
  readonly commit: string
  readonly partners: ReadonlyArray<PartnerRow>
  readonly attention: number
}

/** A review is due *on* its date: overdue from the day after. */
const reviewState = (dueOn: string | undefined, now: number): DatedItem => {
  if (dueOn === undefined) return { date: undefined, state: "none" }
  const due = Date.parse(`${dueOn.slice(0, 10)}T23:59:59.999Z`)
  if (!Number.isFinite(due)) return { date: dueOn, state: "overdue" }
  return { date: dueOn, state: due < now ? "overdue" : due - now <= SOON_DAYS * DAY ? "soon" : "ok" }
}

const expiryState = (certificate: EmbeddedCertificate | undefined, now: number): DatedItem => {
  if (certificate === undefined) return { date: undefined, state: "none" }
  const notAfter = Date.parse(certificate.notAfter)
  // An unreadable date is treated as expired: the page must not look healthy by accident.
  if (!Number.isFinite(notAfter)) return { date: certificate.notAfter, state: "overdue" }
  return {
    date: certificate.notAfter,
    state: notAfter <= now ? "overdue" : notAfter - now <= SOON_DAYS * DAY ? "soon" : "ok",
  }
}

export const partnerRow = (partner: Partner, now: number): PartnerRow => ({
  name: partner.name,
  mode: partner.tls.mode,
  domains: partner.domains,
  review: reviewState(partner.tls.review?.dueOn, now),
  caExpiry: expiryState(partner.tls.verify.ca, now),
  certificateExpiry: expiryState(partner.tls.verify.certificate, now),
  pins: partner.tls.verify.pins.length,
})

const needsAttention = (row: PartnerRow) =>
  [row.review, row.caExpiry, row.certificateExpiry].some((d) => d.state === "overdue" || d.state === "soon")

export const policyStatus = (input: {
  readonly payload: BundlePayload
  readonly digest: string
  readonly keyId: string
  readonly publishedAt: string
  readonly now: number
}): PolicyStatus => {
  const partners = Object.values(input.payload.policy.partners)
    .map((p) => partnerRow(p, input.now))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return {
    serial: input.payload.serial,
    digest: input.digest,
    keyId: input.keyId,
    createdAt: input.payload.createdAt,
    publishedAt: input.publishedAt,
    publishedBy: input.payload.source.publishedBy,
    commit: input.payload.source.commit,
    partners,
    attention: partners.filter(needsAttention).length,
  }
}
