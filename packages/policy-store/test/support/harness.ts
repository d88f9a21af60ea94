/** Layers over a real redis-server for policy-store tests; each test gets its own key prefix. */
import { randomBytes } from "node:crypto"
import { NodeContext } from "@effect/platform-node"
import type { TrustedKey } from "@mailconnect/bundle"
import { SUPPORTED_SCHEMAS } from "@mailconnect/policy"
import { deletePrefix, redisLayer as testRedisLayer } from "@mailconnect/test-support"
import { Duration, Effect, Layer } from "effect"
import { ActivePolicy, LastKnownGood, PolicyStore } from "../../src"

export const uniquePrefix = (): string => `t${randomBytes(4).toString("hex")}`

export const redisLayer = (url: string, prefix: string) =>
  testRedisLayer(url, prefix, { commandTimeoutMs: 500 })

export const storeLayer = (url: string, prefix: string) =>
  PolicyStore.layer.pipe(Layer.provideMerge(redisLayer(url, prefix)))

export const activeLayer = (
  url: string,
  prefix: string,
  stateDir: string,
  trusted: ReadonlyArray<TrustedKey>,
  options: { readonly pollInterval?: Duration.DurationInput } = {},
) =>
  ActivePolicy.layer({
    trusted,
    supportedSchemas: SUPPORTED_SCHEMAS,
    pollInterval: options.pollInterval ?? Duration.seconds(30),
    startTimeout: Duration.seconds(1),
  }).pipe(
    Layer.provideMerge(Layer.merge(PolicyStore.layer, LastKnownGood.layer(stateDir))),
    Layer.provideMerge(redisLayer(url, prefix)),
    Layer.provideMerge(NodeContext.layer),
  )

/** Deletes every key under the prefix (tests share one redis-server per file). */
export const cleanPrefix = (url: string, prefix: string) =>
  Effect.runPromise(deletePrefix(prefix).pipe(Effect.scoped, Effect.provide(redisLayer(url, prefix))))
