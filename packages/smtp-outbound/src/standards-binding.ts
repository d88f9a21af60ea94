/**
 * Binding the `TlsStandards` port (standards.ts): the adapters are taken by their shape —
 * `@mailconnect/dns-secure`'s `SecureDns` and `@mailconnect/mta-sts`'s `MtaSts` fit these types,
 * and the apps (relay, the CLI's probe) pass them in, so no adapter imports another — and which
 * standards a process binds, from the fleet switches in its environment.
 */
import { readFileSync } from "node:fs"
import { Effect } from "effect"
import type {
  LookupFailure,
  StsCause,
  StsDescription,
  StsLookup,
  StsPolicy,
  TlsaAnswerRecord,
  TlsStandardsShape,
  ValidatedAnswer,
  ValidatingDns,
} from "./standards"

/** A failure of the DNSSEC-aware resolver (`SecureDnsError`): `DnsBogus` is a SERVFAIL. */
export interface ResolverFailure {
  readonly _tag: string
  /** The name looked up. */
  readonly name: string
  readonly detail?: string
}

/** What `validatingDnsFrom` needs of a DNSSEC-aware resolver (`SecureDns`). */
export interface ValidatingResolver {
  readonly mx: (
    name: string,
  ) => Effect.Effect<
    ValidatedAnswer<{ readonly preference: number; readonly exchange: string }>,
    ResolverFailure
  >
  readonly addresses: (name: string) => Effect.Effect<ValidatedAnswer<string>, ResolverFailure>
  readonly tlsa: (name: string) => Effect.Effect<ValidatedAnswer<TlsaAnswerRecord>, ResolverFailure>
}

const lookupFailure = (e: ResolverFailure): LookupFailure =>
  e._tag === "DnsBogus" ? { _tag: "Bogus" } : { _tag: "Failed", detail: `${e._tag}: ${e.detail ?? e.name}` }

export const validatingDnsFrom = (resolver: ValidatingResolver): ValidatingDns => ({
  mx: (name) => Effect.mapError(resolver.mx(name), lookupFailure),
  addresses: (name) => Effect.mapError(resolver.addresses(name), lookupFailure),
  tlsa: (name) => Effect.mapError(resolver.tlsa(name), lookupFailure),
})

/** What the MTA-STS service answers (`MtaSts.policyFor`'s `PolicyAnswer`); epoch-ms times. */
export type StsServiceAnswer =
  | {
      readonly _tag: "Policy"
      readonly id: string
      readonly mode: "enforce" | "testing" | "none"
      readonly mx: ReadonlyArray<string>
      readonly maxAge: number
      readonly fetchedAt: number
      readonly expiresAt: number
      readonly source: "cache" | "fetched"
      readonly cache: "ok" | "unavailable"
      readonly unconfirmed?: { readonly reason: string; readonly cause?: StsCause }
      readonly refresh: "none" | "started"
    }
  | {
      readonly _tag: "NoPolicy"
      readonly reason: string
      readonly id?: string
      readonly cause?: StsCause
      readonly retryAt?: number
      readonly cache: "ok" | "unavailable"
    }

export interface StsService {
  readonly policyFor: (domain: string) => Effect.Effect<StsServiceAnswer>
}

const causeOf = (cause: StsCause): StsCause => ({
  _tag: cause._tag,
  ...(cause.form === undefined ? {} : { form: cause.form }),
  ...(cause.rule === undefined ? {} : { rule: cause.rule }),
  ...(cause.code === undefined ? {} : { code: cause.code }),
  ...(cause.detail === undefined ? {} : { detail: cause.detail }),
})

const describeAnswer = (answer: StsServiceAnswer): StsDescription =>
  answer._tag === "NoPolicy"
    ? {
        _tag: "NoPolicy",
        reason: answer.reason,
        ...(answer.id === undefined ? {} : { id: answer.id }),
        ...(answer.cause === undefined ? {} : { cause: causeOf(answer.cause) }),
        ...(answer.retryAt === undefined ? {} : { retryAt: new Date(answer.retryAt).toISOString() }),
        cache: answer.cache,
      }
    : {
        _tag: "Policy",
        id: answer.id,
        mode: answer.mode,
        patterns: answer.mx,
        maxAge: answer.maxAge,
        fetchedAt: new Date(answer.fetchedAt).toISOString(),
        expiresAt: new Date(answer.expiresAt).toISOString(),
        source: answer.source,
        cache: answer.cache,
        ...(answer.unconfirmed === undefined
          ? {}
          : {
              unconfirmed: {
                reason: answer.unconfirmed.reason,
                ...(answer.unconfirmed.cause === undefined
                  ? {}
                  : { cause: causeOf(answer.unconfirmed.cause) }),
              },
            }),
        refresh: answer.refresh,
      }

/**
 * The lookup over the MTA-STS service; `matches` is its RFC 8461 §4.1 MX matching (`mxMatches`),
 * `roots` the test CA of `RELAY_MTA_STS_CA` (see `StsLookup.roots`).
 */
export const stsLookupFrom = (
  service: StsService,
  matches: (policy: { readonly mx: ReadonlyArray<string> }, host: string) => boolean,
  roots?: string,
): StsLookup => {
  const policyOf = (answer: StsServiceAnswer): StsPolicy | undefined =>
    answer._tag === "Policy" && answer.mode !== "none"
      ? {
          mode: answer.mode,
          id: answer.id,
          patterns: answer.mx,
          allows: (host: string) => matches(answer, host),
        }
      : undefined
  return {
    ...(roots === undefined ? {} : { roots }),
    policyFor: (domain) => Effect.map(service.policyFor(domain), policyOf),
    describe: (domain) =>
      Effect.map(service.policyFor(domain), (answer) => ({
        policy: policyOf(answer),
        description: describeAnswer(answer),
      })),
  }
}

/** Which standards a process binds, and how (`tlsStandardsOptionsFromEnv`). */
export interface TlsStandardsOptions {
  /** DANE through this validating resolver (`ip`/`ip:port` list); undefined: DANE off. */
  readonly dane: ReadonlyArray<string> | undefined
  /** MTA-STS; undefined: off. */
  readonly mtaSts:
    | { readonly dnsServers: ReadonlyArray<string>; readonly ca?: string; readonly port?: number }
    | undefined
}

const listOf = (value: string | undefined) =>
  (value ?? "")
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)

const off = (value: string | undefined) => value?.trim().toLowerCase() === "off"

/**
 * The fleet switches: `RELAY_DANE=off` and `RELAY_MTA_STS=off` leave the standard out. DANE
 * trusts the AD bit of `RELAY_DNS_SERVERS`, which must be a validating resolver on the host (see
 * docs/dane-mta-sts.md); without `RELAY_DNS_SERVERS` DANE is off. `RELAY_MTA_STS_CA` (a PEM file)
 * and `RELAY_MTA_STS_PORT` replace the web PKI roots and port 443 — for tests and labs only.
 */
export const tlsStandardsOptionsFromEnv = (env: NodeJS.ProcessEnv): TlsStandardsOptions => {
  const servers = listOf(env.RELAY_DNS_SERVERS)
  const caFile = env.RELAY_MTA_STS_CA
  const port = env.RELAY_MTA_STS_PORT ? Number(env.RELAY_MTA_STS_PORT) : undefined
  return {
    // The AD bit is believed only from resolvers named here: never the system's (resolv.conf may
    // name a resolver across the network, which anyone on the path can answer for).
    dane: off(env.RELAY_DANE) || servers.length === 0 ? undefined : servers,
    mtaSts: off(env.RELAY_MTA_STS)
      ? undefined
      : {
          dnsServers: servers,
          ...(caFile ? { ca: readFileSync(caFile, "utf8") } : {}),
          ...(port ? { port } : {}),
        },
  }
}

/** The port from whichever of the two adapters a process runs (undefined: that standard is off). */
export const tlsStandardsFrom = (
  resolver: ValidatingResolver | undefined,
  service: StsService | undefined,
  matches: (policy: { readonly mx: ReadonlyArray<string> }, host: string) => boolean,
  roots?: string,
): TlsStandardsShape => ({
  dns: resolver === undefined ? undefined : validatingDnsFrom(resolver),
  mtaSts: service === undefined ? undefined : stsLookupFrom(service, matches, roots),
})
