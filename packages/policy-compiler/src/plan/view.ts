/**
 * What a reviewer compares: a resolved resource as flat `field → value` leaves, with durations
 * written as in the source (`4h`), servers as `host:port`, contacts as one line each, and an
 * embedded certificate as file + fingerprint + expiry (the PEM itself says nothing to a reader;
 * its sha256 changes when it does).
 */
import {
  type ClosedGroup,
  type Connector,
  type DefaultPolicy,
  formatDuration,
  type LocalDomain,
  type Partner,
  type TlsVerify,
} from "@mailconnect/policy"

export type Leaf = string | number | boolean | ReadonlyArray<string | number | boolean>
export type Leaves = ReadonlyMap<string, Leaf>

const retryView = (retry: Partner["retry"]) => ({
  schedule: retry.schedule.map(formatDuration),
  every: formatDuration(retry.every),
  warnAfter: formatDuration(retry.warnAfter),
  expireAfter: formatDuration(retry.expireAfter),
})

const certificateView = (certificate: { file: string; sha256: string; notAfter: string } | undefined) =>
  certificate && { file: certificate.file, sha256: certificate.sha256, notAfter: certificate.notAfter }

const verifyView = (verify: TlsVerify) => ({
  ...verify,
  ca: certificateView(verify.ca),
  certificate: certificateView(verify.certificate),
})

export const partnerView = (partner: Partner): unknown => ({
  ...partner,
  servers: partner.servers?.map((s) => `${s.host.includes(":") ? `[${s.host}]` : s.host}:${s.port}`),
  agreement: partner.agreement && {
    ...partner.agreement,
    technicalContacts: partner.agreement.technicalContacts.map(
      (c) => `${c.name} <${c.email}>${c.phone ? ` ${c.phone}` : ""}`,
    ),
  },
  tls: {
    ...partner.tls,
    verify: verifyView(partner.tls.verify),
    review: partner.tls.review && { ...partner.tls.review, every: formatDuration(partner.tls.review.every) },
  },
  inbound: { ...partner.inbound, verify: partner.inbound.verify && verifyView(partner.inbound.verify) },
  retry: retryView(partner.retry),
})

export const defaultsView = (defaults: DefaultPolicy): unknown => ({
  ...defaults,
  retry: retryView(defaults.retry),
})

export const localDomainView = (local: LocalDomain): unknown => ({
  ...local,
  deliverTo: `${local.deliverTo.host}:${local.deliverTo.port}`,
})

export const groupView = (group: ClosedGroup): unknown => group

export const connectorView = (connector: Connector): unknown => ({
  ...connector,
  clientCertificate: connector.clientCertificate && verifyView(connector.clientCertificate),
})

/** Objects become dotted paths; arrays and scalars are leaves; absent values are left out. */
export const flatten = (value: unknown): Leaves => {
  const out = new Map<string, Leaf>()
  const walk = (node: unknown, path: string) => {
    if (node === undefined || node === null) return
    if (typeof node === "object" && !Array.isArray(node)) {
      for (const key of Object.keys(node).sort())
        walk((node as Record<string, unknown>)[key], path ? `${path}.${key}` : key)
      return
    }
    out.set(path, node as Leaf)
  }
  walk(value, "")
  return out
}
