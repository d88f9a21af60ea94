/**
 * Rules about one partner on its own: agreement and contacts, mtls client certificate, pins,
 * which verify settings and DANE/MTA-STS switches the relay will (not) apply, legacy TLS
 * acknowledgement and cipher strings, route servers, the certificate review, the retry timeline
 * and the delivery limits.
 */
import { parseDuration } from "@mailconnect/policy"
import { isWellFormedPin } from "../certificates"
import type { Diagnostic } from "../diagnostic"
import { parseAddress } from "../source/address"
import type { DefaultsDoc } from "../source/schema"
import { STANDARD_SWITCHES } from "../source/standard-switches"
import { diagnosticAt } from "../source/validate"
import { VERIFY_BLOCKS, type VerifyBlock, verifySource } from "./certificates"
import { checkLimits } from "./limits"
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

  // The customer's confirmation (who, when; the agreement's reference): our record that they asked
  // for mail to this partner to be held back rather than sent unauthenticated.
  if (mode !== "opportunistic" && doc.agreement && (!doc.agreement.confirmedBy || !doc.agreement.confirmedOn))
    out.push(
      at(
        ["agreement"],
        "AGREEMENT-CONFIRMATION-MISSING",
        `partner "${doc.name}" uses ${mode} but its agreement ${doc.agreement.reference} records no ${[
          ...(doc.agreement.confirmedBy ? [] : ["confirmedBy"]),
          ...(doc.agreement.confirmedOn ? [] : ["confirmedOn"]),
        ].join(" and ")}`,
        "add agreement.confirmedBy (who at the customer confirmed, e.g. a name and ticket) and agreement.confirmedOn (the date)",
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

  for (const block of VERIFY_BLOCKS) out.push(...checkPins(partner, block))
  out.push(
    ...checkUnverifiedNames(partner, mode),
    ...checkIgnoredVerify(partner, mode),
    ...checkIgnoredStandards(partner, mode),
  )
  const ciphers = doc.tls?.ciphers === undefined ? undefined : secLevelProblem(doc.tls.ciphers, doc.agreement)
  if (ciphers)
    out.push(
      at(["tls", "ciphers"], "CIPHERS-SECLEVEL", ciphers.message, ciphers.hint, { severity: "warning" }),
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
  out.push(...checkLimits(file, doc.limits))
  return out
}

const checkPins = (partner: PartnerSource, block: VerifyBlock): Array<Diagnostic> => {
  const verify = verifySource(partner, block)
  const out: Array<Diagnostic> = []
  const pins = verify?.pins ?? []
  pins.forEach((pin, i) => {
    if (!isWellFormedPin(pin))
      out.push(
        diagnosticAt(
          partner.file,
          [block, "verify", "pins", i],
          "PIN-MALFORMED",
          `pin "${pin}" is not sha256/<base64 SPKI digest>`,
          "compute it with: openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
        ),
      )
  })
  if (verify?.trust === "pins" && pins.length === 0)
    out.push(
      diagnosticAt(
        partner.file,
        [block, "verify", "trust"],
        "PINS-REQUIRED",
        `${block}.verify.trust is pins but no pin is listed`,
        `add ${block}.verify.pins, or use trust: pkix`,
      ),
    )
  return out
}

/**
 * Enforced delivery by DNS MX with no names to accept: the relay checks the certificate against
 * the recipient domain and its subdomains (Postfix \`secure\`, \`nexthop:dot-nexthop\`), never
 * against the MX host name, which came from unauthenticated DNS. Correct, but it refuses a
 * partner whose MX hosts live under another domain, so it is said out loud.
 */
const checkUnverifiedNames = (partner: PartnerSource, mode: string): Array<Diagnostic> => {
  const { doc } = partner
  const verify = doc.tls?.verify
  if (mode === "opportunistic" || doc.route !== undefined) return []
  if (verify?.trust === "pins" || (verify?.names?.length ?? 0) > 0) return []
  return [
    diagnosticAt(
      partner.file,
      verify ? ["tls", "verify"] : doc.tls?.mode ? ["tls", "mode"] : ["name"],
      "ENFORCE-MX-NAMES-DEFAULT",
      `partner "${doc.name}" uses ${mode} via DNS MX without tls.verify.names: the relay accepts only certificates naming the recipient domain or a subdomain of it, never the MX host name from unauthenticated DNS`,
      "list the names the partner's certificates carry in tls.verify.names; that is required when its MX hosts are named outside its domains, e.g. at a mail hoster",
      { target: verify ? "key" : "value", severity: "warning" },
    ),
  ]
}

/**
 * Opportunistic TLS authenticates nobody, so pins, a CA or names in tls.verify are not applied
 * outbound. Inbound they still are when inbound.verify is absent and a client certificate is required.
 */
const checkIgnoredVerify = (partner: PartnerSource, mode: string): Array<Diagnostic> => {
  const { doc } = partner
  const verify = doc.tls?.verify
  if (mode !== "opportunistic" || !verify) return []
  const usedInbound = doc.inbound?.verify === undefined && doc.inbound?.requireClientCertificate === true
  if (usedInbound) return []
  const set = (["pins", "ca", "names"] as const).filter((field) =>
    field === "ca" ? verify.ca !== undefined : (verify[field]?.length ?? 0) > 0,
  )
  if (set.length === 0) return []
  return [
    diagnosticAt(
      partner.file,
      ["tls", "verify", set[0]!],
      "VERIFY-IGNORED-OPPORTUNISTIC",
      `partner "${doc.name}" is opportunistic: tls.verify ${set.join(", ")} ${set.length === 1 ? "is" : "are"} not enforced (mail goes out even without TLS)`,
      "set tls.mode: enforce to require them, or remove them from tls.verify",
      { target: "key", severity: "warning" },
    ),
  ]
}

/**
 * An enforce/mtls partner is held to its own tls.verify at delivery time; DANE and MTA-STS are
 * never consulted for it, so a switch written there does nothing and suggests otherwise.
 */
const checkIgnoredStandards = (partner: PartnerSource, mode: string): Array<Diagnostic> => {
  const { doc } = partner
  if (mode === "opportunistic") return []
  const set = STANDARD_SWITCHES.filter((field) => doc.tls?.[field] !== undefined)
  if (set.length === 0) return []
  const fields = set.map((field) => `tls.${field}`)
  return [
    diagnosticAt(
      partner.file,
      ["tls", set[0]!],
      "STANDARDS-IGNORED-ENFORCED",
      `partner "${doc.name}" uses ${mode}: ${fields.join(" and ")} ${set.length === 1 ? "has" : "have"} no effect (its own tls.verify always wins; DANE and MTA-STS are not consulted for it)`,
      `remove ${fields.join(" and ")}: the DANE and MTA-STS switches apply only to opportunistic partners and to the defaults`,
      { target: "key", severity: "warning" },
    ),
  ]
}

/**
 * With agreement.legacyTls the relay lowers OpenSSL's security level for that partner itself
 * (TLS 1.0/1.1 need SHA-1 signatures, refused at level 1+); a cipher string that sets its own
 * level overrides that decision, raising it again or lowering it further than needed.
 */
export const secLevelProblem = (
  ciphers: string,
  agreement: { readonly legacyTls?: unknown } | undefined,
): { readonly message: string; readonly hint: string } | undefined =>
  /@SECLEVEL=/i.test(ciphers)
    ? {
        message: `ciphers "${ciphers}" sets the OpenSSL security level, which the relay manages itself`,
        hint: agreement?.legacyTls
          ? "remove @SECLEVEL: agreement.legacyTls already makes the relay lower the level for this partner only"
          : "remove @SECLEVEL; for TLS below 1.2 record agreement.legacyTls and the relay lowers the level for this partner only",
      }
    : undefined

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
