/**
 * Policy hot-load for the relay: trusted keys from `MAILCONNECT_TRUSTED_KEYS`, the last-known-good
 * copy under `RELAY_STATE_DIR`, and `ActivePolicy` polling/subscribing per `RelayConfig`.
 */
import { SUPPORTED_SCHEMAS } from "@mailconnect/policy"
import { ActivePolicy, LastKnownGood, loadTrustedKeys, PolicyStore } from "@mailconnect/policy-store"
import { Effect, Layer } from "effect"
import { RelayConfig } from "../config"

export const PolicyLayer = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* RelayConfig
    const trusted = yield* loadTrustedKeys(config.trustedKeyFiles)
    yield* Effect.logInfo("trusted bundle keys loaded").pipe(
      Effect.annotateLogs({ keyIds: trusted.map((k) => k.keyId).join(",") }),
    )
    return ActivePolicy.layer({
      trusted,
      supportedSchemas: SUPPORTED_SCHEMAS,
      pollInterval: config.policyPollInterval,
      startTimeout: config.policyStartTimeout,
    }).pipe(Layer.provide(Layer.merge(PolicyStore.layer, LastKnownGood.layer(config.stateDir))))
  }),
)
