/**
 * The ports through which DNS-based TLS standards reach outbound delivery: a DNSSEC-validating
 * DNS (DANE, RFC 7672) and MTA-STS policies (RFC 8461). The relay and the CLI's probe bind them
 * (`apps/{relay,cli}/src/layers/tls-standards.ts`) to `@mailconnect/dns-secure` and
 * `@mailconnect/mta-sts`, through the converters at the end of this file, which take those
 * services by their shape (an adapter never imports another); a process that binds neither
 * (`TlsStandards.none`, the fleet switches `RELAY_DANE=off` / `RELAY_MTA_STS=off`) delivers by
 * partner policy and opportunistic TLS alone.
 */
import { readFileSync } from "node:fs"
import { Context, Effect, Layer } from "effect"

/** An answer and whether the validating resolver vouched for it (the AD bit). */
export interface ValidatedAnswer<R> {
  readonly status: "records" | "nxdomain" | "nodata"
  readonly secure: boolean
  readonly records: ReadonlyArray<R>
}

/** `Bogus`: the validating resolver answered SERVFAIL; `Failed`: no usable answer came. */
export type LookupFailure = { readonly _tag: "Bogus" } | { readonly _tag: "Failed"; readonly detail: string }

export interface TlsaAnswerRecord {
  readonly usage: number
  readonly selector: number
  readonly matchingType: number
  readonly data: Uint8Array
}

export interface ValidatingDns {
  /** MX by preference; a null MX is one record with exchange `.`. */
  readonly mx: (
    name: string,
  ) => Effect.Effect<
    ValidatedAnswer<{ readonly preference: number; readonly exchange: string }>,
    LookupFailure
  >
  /** A then AAAA. */
  readonly addresses: (name: string) => Effect.Effect<ValidatedAnswer<string>, LookupFailure>
  /** TLSA at the owner name, e.g. `_25._tcp.mx.example.com`. */
  readonly tlsa: (name: string) => Effect.Effect<ValidatedAnswer<TlsaAnswerRecord>, LookupFailure>
}

/** A domain's MTA-STS policy in force (mode `none` and no policy are both `undefined`). */
export interface StsPolicy {
  readonly mode: "enforce" | "testing"
  readonly id: string
  readonly patterns: ReadonlyArray<string>
  /** RFC 8461 §4.1 matching of an MX host against `patterns`. */
  readonly allows: (host: string) => boolean
}

/**
 * What the MTA-STS service knew when it answered: the policy with its cache state, or why there
 * is none. Plain data (times as ISO strings), for the probe's report; delivery never reads it.
 */
export type StsDescription =
  | {
      readonly _tag: "Policy"
      readonly id: string
      /** `none` too: a published policy that asks for nothing. */
      readonly mode: "enforce" | "testing" | "none"
      readonly patterns: ReadonlyArray<string>
      /** Seconds. */
      readonly maxAge: number
      readonly fetchedAt: string
      readonly expiresAt: string
      /** `cache`: the fleet's shared cache had it; `fetched`: fetched for this answer. */
      readonly source: "cache" | "fetched"
      /** `unavailable`: Redis did not answer, so the answer was made without the shared cache. */
      readonly cache: "ok" | "unavailable"
      /** Why a cached policy is in force without DNS or the policy host confirming it now. */
      readonly unconfirmed?: { readonly reason: string; readonly cause?: StsCause }
      /** `started`: the cached policy is getting old and a fetch runs in the background. */
      readonly refresh: "none" | "started"
    }
  | {
      readonly _tag: "NoPolicy"
      /** `no-record`, `fetch-failed`, `dns-failed`, `fetch-backoff`, … (the service's reasons). */
      readonly reason: string
      /** The TXT id whose policy could not be had. */
      readonly id?: string
      readonly cause?: StsCause
      /** `fetch-backoff`: no new fetch of this id before then. */
      readonly retryAt?: string
      readonly cache: "ok" | "unavailable"
    }

/** A tagged failure of the MTA-STS service (`MtaStsError`), reduced to its literal fields. */
export interface StsCause {
  readonly _tag: string
  readonly form?: string
  readonly rule?: string
  readonly code?: string
  readonly detail?: string
}

export interface StsLookup {
  readonly policyFor: (domain: string) => Effect.Effect<StsPolicy | undefined>
  /** The same answer as `policyFor` (one look-up) with what the service knew: for the probe. */
  readonly describe?: (
    domain: string,
  ) => Effect.Effect<{ readonly policy: StsPolicy | undefined; readonly description: StsDescription }>
  /**
   * PEM roots that replace the web PKI for MTA-STS hosts' certificates — the same test CA that
   * signs a lab's policy host (`RELAY_MTA_STS_CA`); never set in production.
   */
  readonly roots?: string
}

export interface TlsStandardsShape {
  readonly dns: ValidatingDns | undefined
  readonly mtaSts: StsLookup | undefined
}

export class TlsStandards extends Context.Tag("@mailconnect/smtp-outbound/TlsStandards")<
  TlsStandards,
  TlsStandardsShape
>() {
  static readonly none = Layer.succeed(TlsStandards, { dns: undefined, mtaSts: undefined })
}

/** The owner name of a host's TLSA records for SMTP on `port` (RFC 7672 §2.2.1). */
export const tlsaOwner = (host: string, port: number): string =>
  `_${port}._tcp.${host.toLowerCase().replace(/\.$/, "")}`

// ---------------------------------------------------------------------------------------------
// Binding the port. The adapters are taken by their shape: `@mailconnect/dns-secure`'s
// `SecureDns` and `@mailconnect/mta-sts`'s `MtaSts` fit these types, and the apps pass them in.

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
