/**
 * The outbound adapter's `TlsStandards` port bound to the DNSSEC-aware resolver
 * (`@mailconnect/dns-secure`, for DANE) and the MTA-STS service (`@mailconnect/mta-sts`).
 *
 * Fleet switches: `RELAY_DANE=off` and `RELAY_MTA_STS=off` leave the standard out. DANE trusts the
 * AD bit of `RELAY_DNS_SERVERS`, which must be a validating resolver on the relay's host (see
 * docs/dane-mta-sts.md); without `RELAY_DNS_SERVERS` DANE is off. `RELAY_MTA_STS_CA` (a PEM file) and `RELAY_MTA_STS_PORT` replace the web
 * PKI roots and port 443 — for tests and labs only.
 */
import { readFileSync } from "node:fs"
import { SecureDns, type SecureDnsError } from "@mailconnect/dns-secure"
import { MtaSts, mxMatches } from "@mailconnect/mta-sts"
import type { RedisClient } from "@mailconnect/redis-client"
import {
  type LookupFailure,
  type StsLookup,
  TlsStandards,
  type ValidatingDns,
} from "@mailconnect/smtp-outbound"
import { Effect, Layer, Option } from "effect"

const failure = (e: SecureDnsError): LookupFailure =>
  e._tag === "DnsBogus"
    ? { _tag: "Bogus" }
    : { _tag: "Failed", detail: `${e._tag}: ${"detail" in e ? e.detail : e.name}` }

const validating = (dns: SecureDns["Type"]): ValidatingDns => ({
  mx: (name) => Effect.mapError(dns.mx(name), failure),
  addresses: (name) => Effect.mapError(dns.addresses(name), failure),
  tlsa: (name) => Effect.mapError(dns.tlsa(name), failure),
})

const sts = (service: MtaSts["Type"], roots: string | undefined): StsLookup => ({
  ...(roots === undefined ? {} : { roots }),
  policyFor: (domain) =>
    Effect.map(service.policyFor(domain), (answer) =>
      answer._tag === "Policy" && answer.mode !== "none"
        ? {
            mode: answer.mode,
            id: answer.id,
            patterns: answer.mx,
            allows: (host: string) => mxMatches(answer, host),
          }
        : undefined,
    ),
})

const dnsServers = (env: NodeJS.ProcessEnv) =>
  (env.RELAY_DNS_SERVERS ?? "")
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)

const off = (value: string | undefined) => value?.trim().toLowerCase() === "off"

export interface TlsStandardsOptions {
  /** DANE through this validating resolver (`ip`/`ip:port` list); undefined: DANE off. */
  readonly dane: ReadonlyArray<string> | undefined
  /** MTA-STS; undefined: off. */
  readonly mtaSts:
    | { readonly dnsServers: ReadonlyArray<string>; readonly ca?: string; readonly port?: number }
    | undefined
}

/** The binding for these options; needs the relay's shared `RedisClient` for the MTA-STS cache. */
export const tlsStandardsLayer = (
  options: TlsStandardsOptions,
): Layer.Layer<TlsStandards, never, RedisClient> => {
  const dane = options.dane ? SecureDns.layer(options.dane).pipe(Layer.orDie) : Layer.empty
  const mtaSts = options.mtaSts ? MtaSts.layer(options.mtaSts) : Layer.empty
  const binding = Layer.effect(
    TlsStandards,
    Effect.gen(function* () {
      const dns = yield* Effect.serviceOption(SecureDns)
      const service = yield* Effect.serviceOption(MtaSts)
      return {
        dns: Option.isSome(dns) ? validating(dns.value) : undefined,
        mtaSts: Option.isSome(service) ? sts(service.value, options.mtaSts?.ca) : undefined,
      }
    }),
  )
  return binding.pipe(Layer.provide(Layer.merge(dane, mtaSts)))
}

/** From the environment (see the header). */
export const TlsStandardsFromEnv: Layer.Layer<TlsStandards, never, RedisClient> = Layer.unwrapEffect(
  Effect.sync(() => {
    const env = process.env
    const servers = dnsServers(env)
    const caFile = env.RELAY_MTA_STS_CA
    const port = env.RELAY_MTA_STS_PORT ? Number(env.RELAY_MTA_STS_PORT) : undefined
    return tlsStandardsLayer({
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
    })
  }),
)
