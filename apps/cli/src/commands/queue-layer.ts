/**
 * The delivery queue as the CLI's queue commands use it: Redis from `REDIS_URL`, and the active
 * bundle (verified with `MAILCONNECT_TRUSTED_KEYS`) when trusted keys are configured, so a
 * partner filter names the partner's domains as the relays see them.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DeliveryQueue } from "@mailconnect/delivery-queue"
import { PolicyView, SUPPORTED_SCHEMAS } from "@mailconnect/policy"
import {
  ActivePolicy,
  LastKnownGood,
  loadTrustedKeys,
  PolicyStore,
  PolicyViewFromActivePolicy,
  trustedKeyFilesConfig,
} from "@mailconnect/policy-store"
import { RedisClient } from "@mailconnect/redis-client"
import { Config, Effect, Layer, Option } from "effect"
import { CliExit } from "../exit"

/** The active bundle when trusted keys are configured; otherwise a view without policy. */
const policyView = Layer.unwrapEffect(
  Effect.gen(function* () {
    const files = yield* Config.option(trustedKeyFilesConfig)
    if (Option.isNone(files) || files.value.length === 0) return PolicyView.none
    const trusted = yield* loadTrustedKeys(files.value)
    const stateDir = mkdtempSync(join(tmpdir(), "mc-cli-"))
    return PolicyViewFromActivePolicy.pipe(
      Layer.provide(
        ActivePolicy.layer({
          trusted,
          supportedSchemas: SUPPORTED_SCHEMAS,
          pollInterval: "1 hour",
          startTimeout: "3 seconds",
        }),
      ),
      Layer.provide(Layer.merge(PolicyStore.layer, LastKnownGood.layer(stateDir))),
    )
  }),
)

export const queueLayer = DeliveryQueue.layer.pipe(
  Layer.provideMerge(policyView),
  Layer.provideMerge(RedisClient.layerFromEnv),
)

export const unavailable = (e: { _tag: string; detail?: string }) =>
  new CliExit({ code: 1, message: `queue unavailable: ${e._tag}${e.detail ? ` (${e.detail})` : ""}` })
