/**
 * `mailconnect policy publish --bundle FILE [--force]`: verifies a signed bundle against
 * MAILCONNECT_TRUSTED_KEYS, checks that every live relay can read its schema, and swaps it in as
 * the current bundle in Redis (REDIS_URL, REDIS_PREFIX) if its serial is above the current one and
 * above the fleet floor (the highest serial any relay has activated). The floor never goes down:
 * a rollback is the old policy compiled again under a new, higher serial, never an old bundle.
 * Every refusal prints why and exits 1; nothing is written to Redis then.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import type { SigningKeyInvalid } from "@mailconnect/bundle"
import { FleetRegistry } from "@mailconnect/fleet"
import {
  loadTrustedKeys,
  PolicyStore,
  type PublishError,
  type Published,
  publishBundle,
  type TrustedKeysUnavailable,
  trustedKeyFilesConfig,
} from "@mailconnect/policy-store"
import { RedisClient } from "@mailconnect/redis-client"
import { Console, Effect, Layer, Option } from "effect"
import { CliExit } from "../exit"

const bundle = Options.file("bundle", { exists: "yes" }).pipe(
  Options.withDescription("signed bundle envelope (from `policy compile`)"),
)
const force = Options.boolean("force").pipe(
  Options.withDescription("publish even if some live relay cannot read the bundle's schema"),
)

type Refusal = PublishError | TrustedKeysUnavailable | SigningKeyInvalid

const explain = (e: Refusal, file: string): string => {
  switch (e._tag) {
    case "BundleMalformed":
      return `${file} is not a bundle envelope: ${e.reason}`
    case "BundleDigestMismatch":
      return `${file} was altered after signing: payload hashes to ${e.actual}, envelope states ${e.stated}`
    case "BundleUnsigned":
      return `${file} carries no signature`
    case "BundleUnknownKey":
      return `${file} is signed by key ${e.keyIds.join(", ")}, which MAILCONNECT_TRUSTED_KEYS does not list`
    case "BundleSignatureInvalid":
      return `${file}: signature by key ${e.keyId} does not verify`
    case "BundlePayloadInvalid":
      return `${file}: payload is not a valid policy bundle: ${e.detail}`
    case "FleetCannotReadSchema":
      return `bundle schema ${e.schema} cannot be read by live relay(s) ${e.relays.join(", ")}; upgrade them first, or pass --force (they keep their current bundle)`
    case "BundleSerialNotAbove":
      return `serial ${e.serial} is not above the current serial ${e.current}; to roll back, compile the old policy with a new serial`
    case "BundleBelowFloor":
      return `serial ${e.serial} is not above the fleet floor ${e.floor} (the highest serial a relay has activated; relays refuse anything below it); to roll back, check out the old policy and compile it with a serial above ${e.floor}`
    case "RedisCommandError":
      return `Redis unavailable (${e.command}: ${e.detail})`
    case "TrustedKeysUnavailable":
      return `trusted key ${e.path || "(none)"}: ${e.detail}`
    case "SigningKeyInvalid":
      return `trusted key ${e.source}: ${e.reason}`
  }
}

const describe = (p: Published): string =>
  [
    `published serial ${p.serial} (schema ${p.schema}, ${p.digest}, signed by ${p.keyId})`,
    `replaces serial ${Option.match(p.previousSerial, { onNone: () => "none", onSome: String })}`,
    `announced to ${p.announcedTo} subscriber(s); relays that missed it pick it up by polling`,
  ].join("\n")

export const publishCommand = Command.make("publish", { bundle, force }, ({ bundle, force }) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const trusted = yield* Effect.flatMap(trustedKeyFilesConfig, loadTrustedKeys)
    const bytes = yield* fs.readFileString(bundle)
    const fleet = yield* FleetRegistry
    const { relays } = yield* fleet.live
    const published = yield* publishBundle({ bytes, trusted, readers: relays, force })
    yield* Console.log(describe(published))
  }).pipe(
    Effect.catchTags({
      ConfigError: (e) => new CliExit({ code: 1, message: `publish refused: configuration: ${e.message}` }),
      SystemError: (e) => new CliExit({ code: 1, message: `publish refused: ${e.message}` }),
      BadArgument: (e) => new CliExit({ code: 1, message: `publish refused: ${e.message}` }),
    }),
    Effect.catchIf(
      (e): e is Refusal => !(e instanceof CliExit),
      (e) => new CliExit({ code: 1, message: `publish refused: ${explain(e, bundle)}` }),
    ),
    Effect.provide(
      Layer.mergeAll(PolicyStore.layer, FleetRegistry.layer).pipe(
        Layer.provideMerge(RedisClient.layerFromEnv),
      ),
    ),
    Effect.catchTag("ConfigError", (e) => new CliExit({ code: 1, message: `publish refused: ${e.message}` })),
  ),
).pipe(
  Command.withDescription(
    [
      "Publish a signed bundle to Redis (REDIS_URL) after verifying it against MAILCONNECT_TRUSTED_KEYS.",
      "The serial must be above the current one and above the fleet floor, the highest serial any relay",
      "has activated; relays refuse bundles below their floor and the floor never goes down.",
      "Rolling back: check out the old policy files and compile them again (`policy compile`, a new",
      "serial above the floor), then publish that bundle; an old bundle itself is never republished.",
    ].join(" "),
  ),
)
