/**
 * The probe's `TlsStandards`, bound as the relay binds them (apps/relay/src/layers/tls-standards.ts,
 * with the converters of `@mailconnect/smtp-outbound`): DANE through `@mailconnect/dns-secure`,
 * MTA-STS through `@mailconnect/mta-sts`. The switches are the relay's (`RELAY_DNS_SERVERS`,
 * `RELAY_DANE=off`, `RELAY_MTA_STS=off`, `RELAY_MTA_STS_CA`, `RELAY_MTA_STS_PORT`).
 *
 * MTA-STS uses the fleet's shared policy cache in Redis (`REDIS_URL`, `REDIS_PREFIX`), so the probe
 * sees what the relays see; a policy it has to fetch is validated and cached for the fleet exactly
 * as a relay would. Without Redis it still answers, by fetching, and the report says
 * `cache unavailable`. Redis is contacted only when MTA-STS is on.
 */
import { SecureDns } from "@mailconnect/dns-secure"
import { MtaSts, mxMatches } from "@mailconnect/mta-sts"
import { RedisClient } from "@mailconnect/redis-client"
import {
  TlsStandards,
  type TlsStandardsOptions,
  tlsStandardsFrom,
  tlsStandardsOptionsFromEnv,
} from "@mailconnect/smtp-outbound"
import { type ConfigError, Effect, Layer, Option } from "effect"

export const tlsStandardsLayer = (
  options: TlsStandardsOptions,
): Layer.Layer<TlsStandards, ConfigError.ConfigError> => {
  const dane = options.dane ? SecureDns.layer(options.dane).pipe(Layer.orDie) : Layer.empty
  const mtaSts = options.mtaSts
    ? MtaSts.layer(options.mtaSts).pipe(Layer.provide(RedisClient.layerFromEnv))
    : Layer.empty
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
export const TlsStandardsFromEnv: Layer.Layer<TlsStandards, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.sync(() => tlsStandardsLayer(tlsStandardsOptionsFromEnv(process.env))),
)
