/**
 * The outbound adapter's `TlsStandards` port bound to the DNSSEC-aware resolver
 * (`@mailconnect/dns-secure`, for DANE) and the MTA-STS service (`@mailconnect/mta-sts`), with the
 * converters of `@mailconnect/smtp-outbound`'s standards.ts (the CLI's probe binds it the same way).
 *
 * Fleet switches (`tlsStandardsOptionsFromEnv`): `RELAY_DANE=off` and `RELAY_MTA_STS=off` leave the
 * standard out. DANE trusts the AD bit of `RELAY_DNS_SERVERS`, which must be a validating resolver
 * on the relay's host (see docs/dane-mta-sts.md); without `RELAY_DNS_SERVERS` DANE is off.
 * `RELAY_MTA_STS_CA` (a PEM file) and `RELAY_MTA_STS_PORT` replace the web PKI roots and port 443 —
 * for tests and labs only.
 */
import { SecureDns } from "@mailconnect/dns-secure"
import { MtaSts, mxMatches } from "@mailconnect/mta-sts"
import type { RedisClient } from "@mailconnect/redis-client"
import {
  TlsStandards,
  type TlsStandardsOptions,
  tlsStandardsFrom,
  tlsStandardsOptionsFromEnv,
} from "@mailconnect/smtp-outbound"
import { Effect, Layer, Option } from "effect"

export type { TlsStandardsOptions } from "@mailconnect/smtp-outbound"

/** The binding for these options; needs the relay's shared `RedisClient` for the MTA-STS cache. */
export const tlsStandardsLayer = (
  options: TlsStandardsOptions,
): Layer.Layer<TlsStandards, never, RedisClient> => {
  const dane = options.dane ? SecureDns.layer(options.dane).pipe(Layer.orDie) : Layer.empty
  const mtaSts = options.mtaSts ? MtaSts.layer(options.mtaSts) : Layer.empty
  const binding = Layer.effect(
    TlsStandards,
    Effect.map(
      Effect.all([Effect.serviceOption(SecureDns), Effect.serviceOption(MtaSts)]),
      ([resolver, service]) =>
        tlsStandardsFrom(
          Option.getOrUndefined(resolver),
          Option.getOrUndefined(service),
          mxMatches,
          options.mtaSts?.ca,
        ),
    ),
  )
  return binding.pipe(Layer.provide(Layer.merge(dane, mtaSts)))
}

/** From the environment (see the header). */
export const TlsStandardsFromEnv: Layer.Layer<TlsStandards, never, RedisClient> = Layer.unwrapEffect(
  Effect.sync(() => tlsStandardsLayer(tlsStandardsOptionsFromEnv(process.env))),
)
