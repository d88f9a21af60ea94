/**
 * Which changes weaken protection, so a reviewer cannot miss them in a long plan: a lower TLS
 * mode or version, DANE or MTA-STS switched off where the relay would consult them, pins or a
 * private CA taken away (outbound or for the partner's sending servers), inbound enforcement
 * relaxed, a domain handed to another partner or left to the (opportunistic) defaults, a closed
 * group widened, a connector added or widened (more servers or sender domains may relay, with
 * less proof).
 */
import type { Connector, Partner, PolicySet, StandardSwitch, TlsMode, TlsVerify } from "@mailconnect/policy"
import type { ResourceKind, SecurityCode, SecurityFlag } from "./plan"

const MODE_RANK: Record<TlsMode, number> = { opportunistic: 0, enforce: 1, mtls: 2 }
const VERSION_RANK: Record<string, number> = { TLSv1: 0, "TLSv1.1": 1, "TLSv1.2": 2, "TLSv1.3": 3 }

const flag = (code: SecurityCode, kind: ResourceKind, name: string, message: string): SecurityFlag => ({
  code,
  kind,
  name,
  message,
})

interface TlsView {
  readonly mode: TlsMode
  readonly minVersion: string
  readonly dane?: StandardSwitch | undefined
  readonly mtaSts?: StandardSwitch | undefined
}

const STANDARDS = [
  {
    field: "dane",
    code: "DANE-DISABLED",
    effect: "MX hosts with validated TLSA records (RFC 7672) are no longer authenticated",
  },
  {
    field: "mtaSts",
    code: "MTA-STS-DISABLED",
    effect: "MTA-STS enforce policies (RFC 8461) are no longer applied",
  },
] as const

/**
 * A switch turned off (from on, or from absent, which means on) weakens delivery only where the
 * relay consults it: opportunistic TLS without explicit route servers. An enforce/mtls partner's
 * own verification wins either way.
 */
const standardFlags = (
  kind: ResourceKind,
  name: string,
  before: TlsView,
  after: TlsView,
  consulted: boolean,
): Array<SecurityFlag> =>
  consulted
    ? STANDARDS.flatMap(({ field, code, effect }) =>
        after[field] === "off" && before[field] !== "off"
          ? [flag(code, kind, name, `tls.${field} ${before[field] ?? "on (default)"} → off: ${effect}`)]
          : [],
      )
    : []

const tlsFlags = (
  kind: ResourceKind,
  name: string,
  before: TlsView,
  after: TlsView,
  routed: boolean,
): Array<SecurityFlag> => [
  ...(MODE_RANK[after.mode] < MODE_RANK[before.mode]
    ? [flag("MODE-DOWNGRADED", kind, name, `tls.mode ${before.mode} → ${after.mode}`)]
    : []),
  ...(VERSION_RANK[after.minVersion]! < VERSION_RANK[before.minVersion]!
    ? [flag("MIN-VERSION-LOWERED", kind, name, `tls.minVersion ${before.minVersion} → ${after.minVersion}`)]
    : []),
  ...standardFlags(kind, name, before, after, after.mode === "opportunistic" && !routed),
]

const verifyFlags = (
  name: string,
  label: string,
  before: TlsVerify,
  after: TlsVerify,
): Array<SecurityFlag> => {
  const out: Array<SecurityFlag> = []
  const removedPins = before.pins.filter((p) => !after.pins.includes(p))
  if (removedPins.length > 0)
    out.push(flag("PINS-REMOVED", "partner", name, `${label}pins removed: ${removedPins.join(", ")}`))
  const ca = before.ca
  const newCa = after.ca
  if (ca && !newCa)
    out.push(
      flag("CA-REMOVED", "partner", name, `${label}private CA ${ca.file} removed: public roots now accepted`),
    )
  else if (ca && newCa && ca.sha256 !== newCa.sha256)
    out.push(
      flag(
        "CA-REPLACED",
        "partner",
        name,
        `${label}private CA ${ca.file} → ${newCa.file} (different certificates)`,
      ),
    )
  return out
}

const partnerFlags = (name: string, before: Partner, after: Partner): Array<SecurityFlag> => {
  const out = tlsFlags("partner", name, before.tls, after.tls, (after.servers?.length ?? 0) > 0)
  out.push(...verifyFlags(name, "", before.tls.verify, after.tls.verify))
  // Bundles compiled before inbound.verify existed applied tls.verify inbound.
  out.push(
    ...verifyFlags(
      name,
      "inbound.verify ",
      before.inbound.verify ?? before.tls.verify,
      after.inbound.verify ?? after.tls.verify,
    ),
  )
  if (before.inbound.requireTls && !after.inbound.requireTls)
    out.push(flag("INBOUND-RELAXED", "partner", name, "inbound.requireTls true → false"))
  if (before.inbound.requireClientCertificate && !after.inbound.requireClientCertificate)
    out.push(flag("INBOUND-RELAXED", "partner", name, "inbound.requireClientCertificate true → false"))
  return out
}

const owners = (policy: PolicySet): Map<string, Partner> => {
  const map = new Map<string, Partner>()
  for (const partner of Object.values(policy.partners)) for (const d of partner.domains) map.set(d, partner)
  return map
}

const domainFlags = (base: PolicySet, head: PolicySet): Array<SecurityFlag> => {
  const out: Array<SecurityFlag> = []
  const after = owners(head)
  for (const [domain, was] of [...owners(base)].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const now = after.get(domain)
    if (now && now.name !== was.name)
      out.push(
        flag(
          "DOMAIN-MOVED",
          "partner",
          now.name,
          `${domain} moved from partner ${was.name} (${was.tls.mode}) to partner ${now.name} (${now.tls.mode})`,
        ),
      )
    else if (!now && MODE_RANK[head.defaults.tls.mode] < MODE_RANK[was.tls.mode])
      out.push(
        flag(
          "DOMAIN-UNPROTECTED",
          "partner",
          was.name,
          `${domain} left partner ${was.name} (${was.tls.mode}) and falls back to the default (${head.defaults.tls.mode})`,
        ),
      )
  }
  return out
}

const groupFlags = (base: PolicySet, head: PolicySet): Array<SecurityFlag> =>
  Object.keys(head.groups)
    .sort()
    .flatMap((name) => {
      const was = base.groups[name]
      if (!was) return []
      const now = head.groups[name]!
      const added = [
        ...now.members.filter((m) => !was.members.includes(m)),
        ...now.localDomains.filter((d) => !was.localDomains.includes(d)),
      ]
      return added.length > 0
        ? [flag("GROUP-MEMBER-ADDED", "group", name, `closed group ${name} admits ${added.join(", ")}`)]
        : []
    })

const describeConnector = (c: Connector): string =>
  [
    `may relay for ${c.senderDomains.join(", ")}`,
    c.networks.length > 0 ? `from ${c.networks.join(", ")}` : "from any address",
    c.clientCertificate ? "with a client certificate" : "without a client certificate",
    c.requireTls ? "over TLS" : "also over plaintext",
  ].join(" ")

const added = (before: ReadonlyArray<string>, after: ReadonlyArray<string>) =>
  after.filter((v) => !before.includes(v))

const connectorWidenings = (was: Connector, now: Connector): Array<string> => {
  const out: Array<string> = []
  const networks = added(was.networks, now.networks)
  if (was.networks.length > 0 && now.networks.length === 0) out.push("networks removed: any address now")
  else if (networks.length > 0) out.push(`networks added: ${networks.join(", ")}`)
  const domains = added(was.senderDomains, now.senderDomains)
  if (domains.length > 0) out.push(`senderDomains added: ${domains.join(", ")}`)
  if (was.requireTls && !now.requireTls) out.push("requireTls true → false")
  const before = was.clientCertificate
  const after = now.clientCertificate
  if (before && !after) out.push("clientCertificate removed")
  if (before && after) {
    const names = added(before.names, after.names)
    if (names.length > 0) out.push(`clientCertificate names added: ${names.join(", ")}`)
    const pins = before.pins.filter((p) => !after.pins.includes(p))
    if (pins.length > 0) out.push(`clientCertificate pins removed: ${pins.join(", ")}`)
    if (before.ca?.sha256 !== after.ca?.sha256)
      out.push(`clientCertificate CA ${before.ca?.file ?? "(none)"} → ${after.ca?.file ?? "(none)"}`)
    if (before.trust !== after.trust) out.push(`clientCertificate trust ${before.trust} → ${after.trust}`)
  }
  return out
}

const connectorFlags = (base: PolicySet, head: PolicySet): Array<SecurityFlag> =>
  Object.entries(head.connectors ?? {}).flatMap(([name, now]) => {
    const was = base.connectors?.[name]
    if (!was)
      return [flag("CONNECTOR-ADDED", "connector", name, `connector ${name} ${describeConnector(now)}`)]
    return connectorWidenings(was, now).map((change) => flag("CONNECTOR-WIDENED", "connector", name, change))
  })

export const securityFlags = (base: PolicySet, head: PolicySet): Array<SecurityFlag> => {
  const out = tlsFlags("defaults", "defaults", base.defaults.tls, head.defaults.tls, false)
  for (const name of Object.keys(head.partners).sort()) {
    const before = base.partners[name]
    if (before) out.push(...partnerFlags(name, before, head.partners[name]!))
  }
  out.push(...domainFlags(base, head), ...groupFlags(base, head), ...connectorFlags(base, head))
  const order: ReadonlyArray<ResourceKind> = ["defaults", "partner", "localDomain", "group", "connector"]
  return out.sort(
    (a, b) =>
      order.indexOf(a.kind) - order.indexOf(b.kind) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
      (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  )
}
