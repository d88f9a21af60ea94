/**
 * What is due for the partners under an enforced agreement (the seed's "renewed only days before
 * expiry", "new certificate at short notice", "yearly attestation"): per partner, the certificates
 * its servers presented (the certificate watch) with the days left and the last change, and the
 * attestation (`tls.review`) due date — each flagged when it needs someone to act. Pure: the
 * policy and the watch in, the report out; the relay's metrics, `mailconnect partners report` and
 * the dashboard show it.
 */
import type { Contact, PolicySet } from "@mailconnect/policy"
import type { CertificateChange, ObservedCertificate, WatchedCertificate } from "./cert-watch"
import { describeRouteMismatch, type RouteCheck } from "./route-check"

const DAY = 86_400_000

export interface WatchOptions {
  /** Warn this many days before a certificate expires (default 21). */
  readonly expiryWarningDays?: number
  /** Warn this many days before an attestation is due (default 30). */
  readonly reviewWarningDays?: number
  /** A change is news for this many days (default 7). */
  readonly changeNewsDays?: number
}

export type Attention =
  | "expired"
  | "provider-changed"
  | "expires-soon"
  | "changed"
  | "review-overdue"
  | "review-due"

export interface CertificateStatus {
  readonly server: string
  readonly certificate: ObservedCertificate
  readonly expiresAt: number
  /** Whole days left (negative once expired). */
  readonly daysLeft: number
  readonly firstSeen: number
  readonly lastSeen: number
  readonly change?: {
    readonly kind: CertificateChange
    readonly at: number
    readonly previous: ObservedCertificate | undefined
    /** What the operator should do about it. */
    readonly advice: string
  }
  readonly attention: ReadonlyArray<Attention>
}

export interface PartnerStatus {
  readonly partner: string
  readonly mode: string
  readonly contacts: ReadonlyArray<Contact>
  readonly agreement:
    | { readonly reference: string; readonly confirmedBy?: string; readonly confirmedOn?: string }
    | undefined
  readonly review: { readonly dueOn: string; readonly dueAt: number; readonly daysLeft: number } | undefined
  readonly certificates: ReadonlyArray<CertificateStatus>
  /** The last comparison of the domain's MX with the partner's route servers, if any. */
  readonly route?: RouteCheck & { readonly note?: string }
  /** Everything here that needs someone to act, most urgent first. */
  readonly attention: ReadonlyArray<Attention>
}

const ADVICE: Record<CertificateChange, string> = {
  "renewed-same-key": "renewed with the same key: pins stay valid",
  "new-key":
    "a new key: pins on the old key no longer match — confirm with the partner and update tls.verify.pins",
  "new-issuer":
    "a new issuer: a new CA or a new provider — confirm with the partner; check tls.verify.ca and whether their MX moved",
}

const ORDER: ReadonlyArray<Attention> = [
  "expired",
  "provider-changed",
  "review-overdue",
  "expires-soon",
  "changed",
  "review-due",
]
const byUrgency = (list: Iterable<Attention>) => ORDER.filter((a) => [...list].includes(a))

const certificateStatus = (
  w: WatchedCertificate,
  now: number,
  options: Required<WatchOptions>,
): CertificateStatus => {
  const expiresAt = Date.parse(w.certificate.notAfter)
  const daysLeft = Math.floor((expiresAt - now) / DAY)
  const recent = w.change !== undefined && now - w.change.at <= options.changeNewsDays * DAY
  const attention: Array<Attention> = []
  if (expiresAt <= now) attention.push("expired")
  else if (daysLeft < options.expiryWarningDays) attention.push("expires-soon")
  // A renewal with the same key needs nobody; a new key or issuer does.
  if (recent && w.change!.kind !== "renewed-same-key") attention.push("changed")
  return {
    server: w.server,
    certificate: w.certificate,
    expiresAt,
    daysLeft,
    firstSeen: w.firstSeen,
    lastSeen: w.lastSeen,
    ...(w.change ? { change: { ...w.change, advice: ADVICE[w.change.kind] } } : {}),
    attention,
  }
}

/** The enforced partners (enforce and mtls) of `policy` with what the watch saw of them. */
export const partnerWatch = (
  policy: PolicySet,
  watched: ReadonlyArray<WatchedCertificate>,
  now: number,
  options: WatchOptions = {},
  routes: Readonly<Record<string, RouteCheck>> = {},
): ReadonlyArray<PartnerStatus> => {
  const settings: Required<WatchOptions> = {
    expiryWarningDays: options.expiryWarningDays ?? 21,
    reviewWarningDays: options.reviewWarningDays ?? 30,
    changeNewsDays: options.changeNewsDays ?? 7,
  }
  return Object.values(policy.partners)
    .filter((p) => p.tls.mode !== "opportunistic")
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((p): PartnerStatus => {
      const certificates = watched
        .filter((w) => w.partner === p.name)
        .map((w) => certificateStatus(w, now, settings))
      const dueOn = p.tls.review?.dueOn
      const dueAt = dueOn === undefined ? undefined : Date.parse(`${dueOn.slice(0, 10)}T00:00:00Z`)
      const review =
        dueOn === undefined || dueAt === undefined
          ? undefined
          : { dueOn, dueAt, daysLeft: Math.floor((dueAt - now) / DAY) }
      const reviewAttention: Array<Attention> =
        review === undefined
          ? []
          : review.dueAt <= now
            ? ["review-overdue"]
            : review.daysLeft < settings.reviewWarningDays
              ? ["review-due"]
              : []
      const route = routes[p.name]
      return {
        partner: p.name,
        mode: p.tls.mode,
        ...(route
          ? { route: route.mismatch ? { ...route, note: describeRouteMismatch(route) } : route }
          : {}),
        contacts: p.agreement?.technicalContacts ?? [],
        agreement: p.agreement
          ? {
              reference: p.agreement.reference,
              ...(p.agreement.confirmedBy ? { confirmedBy: p.agreement.confirmedBy } : {}),
              ...(p.agreement.confirmedOn ? { confirmedOn: p.agreement.confirmedOn } : {}),
            }
          : undefined,
        review,
        certificates,
        attention: byUrgency([
          ...reviewAttention,
          ...certificates.flatMap((c) => c.attention),
          ...(route?.mismatch ? (["provider-changed"] as const) : []),
        ]),
      }
    })
}
