/**
 * Builders for the resolved policy model (what a bundle carries): a happy-path partner with one
 * field overridden per test, local domains, and a policy set whose closed groups follow from the
 * groups its partners and local domains name.
 */
import type {
  ClosedGroup,
  LocalDomain,
  Partner,
  PolicySet,
  RetryPolicy,
  ServerAddress,
} from "@mailconnect/policy"

export const retry = {
  schedule: [300_000, 600_000],
  every: 3_600_000,
  warnAfter: 14_400_000,
  expireAfter: 864_000_000,
}

/** An enforce partner at `<name>.example`, PKIX-verified, no inbound requirements. */
export const partner = (name: string, overrides: Partial<Partner> = {}): Partner => ({
  name,
  domains: [`${name}.example`],
  tls: { mode: "enforce", minVersion: "TLSv1.2", verify: { trust: "pkix", names: [], pins: [] } },
  inbound: { requireTls: false, requireClientCertificate: false },
  retry,
  groups: [],
  ...overrides,
})

export const localDomain = (
  domain: string,
  deliverTo: ServerAddress = { host: "127.0.0.1", port: 25 },
  groups: ReadonlyArray<string> = [],
): LocalDomain => ({ domain, deliverTo, groups })

/** `customer.example`, and `court.customer.example` in the closed group `justice`. */
export const customerDomains: ReadonlyArray<LocalDomain> = [
  localDomain("customer.example"),
  localDomain("court.customer.example", undefined, ["justice"]),
]

export const policyWith = (
  partners: ReadonlyArray<Partner>,
  options: {
    readonly localDomains?: ReadonlyArray<LocalDomain>
    readonly dsnLanguages?: ReadonlyArray<string>
    /** The defaults' retry policy (what local domains and unknown domains get). */
    readonly retry?: RetryPolicy
  } = {},
): PolicySet => {
  const localDomains = options.localDomains ?? customerDomains
  const names = [...new Set(localDomains.flatMap((d) => d.groups))]
  const group = (name: string): ClosedGroup => ({
    name,
    members: partners.filter((p) => p.groups.includes(name)).map((p) => p.name),
    localDomains: localDomains.filter((d) => d.groups.includes(name)).map((d) => d.domain),
  })
  return {
    defaults: {
      tls: { mode: "opportunistic", minVersion: "TLSv1.2" },
      retry: options.retry ?? retry,
      dsn: { languages: options.dsnLanguages ?? ["de", "en"] },
    },
    partners: Object.fromEntries(partners.map((p) => [p.name, p])),
    localDomains: Object.fromEntries(localDomains.map((d) => [d.domain, d])),
    groups: Object.fromEntries(names.map((name) => [name, group(name)])),
  }
}
