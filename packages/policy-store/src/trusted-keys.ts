/**
 * Loading the trusted bundle verification keys (`MAILCONNECT_TRUSTED_KEYS`: comma-separated
 * public key files; several keys = rotation). Shared by the relay and the CLI.
 */
import { FileSystem } from "@effect/platform"
import { parseTrustedKey, type SigningKeyInvalid, type TrustedKey } from "@mailconnect/bundle"
import { Config, Effect } from "effect"
import { TrustedKeysUnavailable } from "./errors"

export const trustedKeyFilesConfig: Config.Config<ReadonlyArray<string>> = Config.string(
  "MAILCONNECT_TRUSTED_KEYS",
).pipe(
  Config.map((text) =>
    text
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  ),
)

export const loadTrustedKeys = (
  paths: ReadonlyArray<string>,
): Effect.Effect<
  ReadonlyArray<TrustedKey>,
  TrustedKeysUnavailable | SigningKeyInvalid,
  FileSystem.FileSystem
> =>
  Effect.gen(function* () {
    if (paths.length === 0)
      return yield* new TrustedKeysUnavailable({
        path: "",
        detail: "MAILCONNECT_TRUSTED_KEYS names no key file",
      })
    const fs = yield* FileSystem.FileSystem
    return yield* Effect.forEach(paths, (path) =>
      fs.readFileString(path).pipe(
        Effect.mapError((e) => new TrustedKeysUnavailable({ path, detail: e.message })),
        Effect.flatMap((pem) => parseTrustedKey(pem, path)),
      ),
    )
  })
