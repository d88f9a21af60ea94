/**
 * Valid source documents → the resolved policy model: defaults folded into every partner
 * (tls.dane and tls.mtaSts only when written in one of the two, so bundles that use neither stay
 * byte-identical), durations in milliseconds, domains (already A-labels) sorted, certificates
 * embedded, review due dates computed, inbound.verify filled in, group membership written onto
 * partners and local domains, a local domain's published MTA-STS policy only when written, connectors
 * (canonical networks, only when there are any), delivery limits per field (only when one is set). Only
 * called when there are no errors, so lookups here may assume what the checks established.
 */
import {
  type Agreement,
  type ClosedGroup,
  type Connector,
  type DefaultPolicy,
  type DeliveryLimits,
  type LocalDomain,
  type Partner,
  type PolicySet,
  type PublishedMtaSts,
  parseDuration,
  parseNetwork,
  type RetryPolicy,
  type ServerAddress,
  type TlsVerify,
} from "@mailconnect/policy"
import type { PartnerCertificates, VerifyCertificates } from "./check/certificates"
import type { ConnectorCertificates } from "./check/connector"
import { readMtaSts } from "./check/mta-sts"
import { reviewDueOn } from "./check/partner"
import type { Sources } from "./check/sources"
import { readTlsRpt } from "./check/tls-rpt"
import { parseAddress } from "./source/address"
import type {
  ConnectorDoc,
  DefaultsDoc,
  LimitsSource,
  PartnerDoc,
  PublishedMtaStsSource,
  RetrySource,
  VerifySource,
} from "./source/schema"

const ms = (text: string): number => parseDuration(text)!

const address = (text: string): ServerAddress => {
  const parsed = parseAddress(text)
  if ("problem" in parsed) throw new Error(`unchecked address ${text}`)
  return parsed.address
}

const publishedMtaSts = (source: PublishedMtaStsSource): PublishedMtaSts => {
  const read = readMtaSts(source)
  if (read.policy === undefined) throw new Error("unchecked mtaSts")
  return read.policy
}

const sortedUnique = (values: Iterable<string>): Array<string> => [...new Set(values)].sort()

const resolveDefaults = (doc: DefaultsDoc): DefaultPolicy => ({
  tls: {
    mode: doc.tls.mode,
    minVersion: doc.tls.minVersion,
    ...(doc.tls.ciphers === undefined ? {} : { ciphers: doc.tls.ciphers }),
    ...(doc.tls.dane === undefined ? {} : { dane: doc.tls.dane }),
    ...(doc.tls.mtaSts === undefined ? {} : { mtaSts: doc.tls.mtaSts }),
  },
  retry: {
    schedule: doc.retry.schedule.map(ms),
    every: ms(doc.retry.every),
    warnAfter: ms(doc.retry.warnAfter),
    expireAfter: ms(doc.retry.expireAfter),
  },
  dsn: { languages: [...doc.dsn.languages] },
})

const resolveRetry = (own: RetrySource | undefined, defaults: RetryPolicy): RetryPolicy => ({
  schedule: own?.schedule ? own.schedule.map(ms) : defaults.schedule,
  every: own?.every ? ms(own.every) : defaults.every,
  warnAfter: own?.warnAfter ? ms(own.warnAfter) : defaults.warnAfter,
  expireAfter: own?.expireAfter ? ms(own.expireAfter) : defaults.expireAfter,
})

/** Per field, the partner's own over the Defaults'; absent when neither sets any, so older bundles stay byte-identical. */
const resolveLimits = (
  own: LimitsSource | undefined,
  defaults: LimitsSource | undefined,
): DeliveryLimits | undefined => {
  const messagesPerMinute = own?.messagesPerMinute ?? defaults?.messagesPerMinute
  const connections = own?.connections ?? defaults?.connections
  if (messagesPerMinute === undefined && connections === undefined) return undefined
  return {
    ...(messagesPerMinute === undefined ? {} : { messagesPerMinute }),
    ...(connections === undefined ? {} : { connections }),
  }
}

const resolveAgreement = (agreement: NonNullable<PartnerDoc["agreement"]>): Agreement => ({
  reference: agreement.reference,
  signedOn: agreement.signedOn,
  ...(agreement.confirmedBy === undefined ? {} : { confirmedBy: agreement.confirmedBy }),
  ...(agreement.confirmedOn === undefined ? {} : { confirmedOn: agreement.confirmedOn }),
  technicalContacts: (agreement.technicalContacts ?? []).map((c) => ({
    name: c.name,
    email: c.email,
    ...(c.phone === undefined ? {} : { phone: c.phone }),
  })),
  ...(agreement.legacyTls === undefined
    ? {}
    : {
        legacyTls: {
          reason: agreement.legacyTls.reason,
          ...(agreement.legacyTls.acknowledgedBy === undefined
            ? {}
            : { acknowledgedBy: agreement.legacyTls.acknowledgedBy }),
        },
      }),
})

const resolveVerify = (source: VerifySource | undefined, certificates: VerifyCertificates): TlsVerify => ({
  trust: source?.trust ?? "pkix",
  names: sortedUnique(source?.names ?? []),
  ...(certificates.ca === undefined ? {} : { ca: certificates.ca }),
  ...(certificates.certificate === undefined ? {} : { certificate: certificates.certificate }),
  pins: sortedUnique(source?.pins ?? []),
})

const resolvePartner = (
  doc: PartnerDoc,
  defaults: DefaultPolicy,
  defaultLimits: LimitsSource | undefined,
  certificates: PartnerCertificates,
  groups: ReadonlyArray<string>,
): Partner => {
  const tls = doc.tls
  const mode = tls?.mode ?? defaults.tls.mode
  const ciphers = tls?.ciphers ?? defaults.tls.ciphers
  // Absent means on; an enforce/mtls partner carries them too, and the relay ignores them there.
  const dane = tls?.dane ?? defaults.tls.dane
  const mtaSts = tls?.mtaSts ?? defaults.tls.mtaSts
  const review = tls?.review
  const verify = resolveVerify(tls?.verify, certificates.tls)
  const limits = resolveLimits(doc.limits, defaultLimits)
  return {
    name: doc.name,
    ...(doc.agreement === undefined ? {} : { agreement: resolveAgreement(doc.agreement) }),
    domains: sortedUnique(doc.domains),
    ...(doc.route === undefined ? {} : { servers: doc.route.servers.map(address) }),
    tls: {
      mode,
      minVersion: tls?.minVersion ?? defaults.tls.minVersion,
      ...(ciphers === undefined ? {} : { ciphers }),
      verify,
      ...(dane === undefined ? {} : { dane }),
      ...(mtaSts === undefined ? {} : { mtaSts }),
      ...(tls?.clientCertificate === undefined ? {} : { clientCertificate: tls.clientCertificate }),
      ...(review === undefined
        ? {}
        : {
            review: {
              attestedOn: review.attestedOn,
              every: ms(review.every),
              dueOn: reviewDueOn(review.attestedOn, review.every),
            },
          }),
    },
    // A bilateral agreement binds both directions unless the partner file says otherwise.
    inbound: {
      requireTls: doc.inbound?.requireTls ?? mode !== "opportunistic",
      requireClientCertificate: doc.inbound?.requireClientCertificate ?? mode === "mtls",
      // The partner's sending servers are usually its receiving servers: same names, CA and pins.
      verify: doc.inbound?.verify ? resolveVerify(doc.inbound.verify, certificates.inbound) : verify,
    },
    retry: resolveRetry(doc.retry, defaults.retry),
    groups: [...groups],
    ...(limits === undefined ? {} : { limits }),
  }
}

const network = (text: string): string => {
  const parsed = parseNetwork(text)
  if (!parsed.ok) throw new Error(`unchecked network ${text}`)
  return parsed.parsed.network
}

/** A certificate requirement implies TLS whatever requireTls says (CONNECTOR-REQUIRE-TLS-IGNORED). */
const resolveConnector = (doc: ConnectorDoc, certificates: ConnectorCertificates): Connector => {
  const certificate = doc.clientCertificate
  return {
    name: doc.name,
    networks: sortedUnique((doc.networks ?? []).map(network)),
    ...(certificate === undefined
      ? {}
      : {
          clientCertificate: {
            trust: certificate.trust ?? "pkix",
            names: sortedUnique(certificate.names ?? []),
            ...(certificates.ca === undefined ? {} : { ca: certificates.ca }),
            pins: sortedUnique(certificate.pins ?? []),
          },
        }),
    senderDomains: sortedUnique(doc.senderDomains),
    requireTls: certificate !== undefined || (doc.requireTls ?? true),
  }
}

export const resolvePolicy = (
  sources: Sources,
  certificates: ReadonlyMap<string, PartnerCertificates>,
  connectorCertificates: ReadonlyMap<string, ConnectorCertificates> = new Map(),
): PolicySet => {
  const defaults = resolveDefaults(sources.defaults!.doc)
  const groupsOf = new Map<string, Array<string>>()
  const groups: Record<string, ClosedGroup> = {}
  for (const { doc } of [...sources.groups].sort((a, b) => (a.doc.name < b.doc.name ? -1 : 1))) {
    const localDomains = sortedUnique(doc.localDomains)
    const members = sortedUnique(doc.members)
    groups[doc.name] = { name: doc.name, members, localDomains }
    for (const key of [...members, ...localDomains.map((d) => `local:${d}`)])
      groupsOf.set(key, [...(groupsOf.get(key) ?? []), doc.name])
  }
  const partners: Record<string, Partner> = {}
  for (const { doc } of sources.partners)
    partners[doc.name] = resolvePartner(
      doc,
      defaults,
      sources.defaults!.doc.limits,
      certificates.get(doc.name) ?? { tls: {}, inbound: {} },
      groupsOf.get(doc.name) ?? [],
    )
  const localDomains: Record<string, LocalDomain> = {}
  for (const source of sources.localDomains)
    for (const entry of source.doc.domains) {
      const domain = entry.domain
      localDomains[domain] = {
        domain,
        deliverTo: address(entry.deliverTo),
        groups: groupsOf.get(`local:${domain}`) ?? [],
        ...(entry.mtaSts === undefined ? {} : { mtaSts: publishedMtaSts(entry.mtaSts) }),
        ...(entry.tlsRpt === undefined ? {} : { tlsRpt: { rua: readTlsRpt(entry.tlsRpt).rua } }),
      }
    }
  const connectors: Record<string, Connector> = {}
  for (const { doc } of [...sources.connectors].sort((a, b) => (a.doc.name < b.doc.name ? -1 : 1)))
    connectors[doc.name] = resolveConnector(doc, connectorCertificates.get(doc.name) ?? {})
  // Only when there are any: a policy without connectors compiles to the same bytes as before.
  return {
    defaults,
    partners,
    localDomains,
    groups,
    ...(Object.keys(connectors).length === 0 ? {} : { connectors }),
  }
}
