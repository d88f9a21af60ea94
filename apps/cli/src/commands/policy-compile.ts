/**
 * `mailconnect policy compile [--dir DIR] --key FILE --out FILE [--serial N]`: check, resolve
 * and sign the policy into a bundle file.
 *
 * The signing key comes from `--key FILE` or the `MAILCONNECT_SIGNING_KEY` environment
 * variable (PEM text) and is refused when it lies inside the policy directory or is tracked
 * by git. The serial defaults to the current Unix time in seconds (Effect's Clock): it grows
 * with every compile, so relays accept each new bundle, and recompiling an old commit for an
 * emergency rollback still yields a newer serial. Replaying an old *bundle* stays refused.
 * CI that needs reproducible bytes passes `--serial` (e.g. the commit time).
 */
import { Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { digestOf, parseSigningKey, signBundle } from "@mailconnect/bundle"
import { buildPayload, compileDirectory, hasErrors } from "@mailconnect/policy-compiler"
import { Clock, Console, Effect, Option } from "effect"
import { CliExit } from "../exit"
import { isTrackedByGit, sourceCommit } from "./policy-git"
import { describeResult, dirOption, printDiagnostics } from "./policy-options"

export const SIGNING_KEY_ENV = "MAILCONNECT_SIGNING_KEY"

const key = Options.file("key").pipe(
  Options.optional,
  Options.withDescription(`Ed25519 signing key (PKCS#8 PEM); default: the ${SIGNING_KEY_ENV} variable`),
)
const out = Options.file("out").pipe(Options.withDescription("bundle file to write"))
const serial = Options.integer("serial").pipe(
  Options.optional,
  Options.withDescription("bundle serial (default: current Unix time in seconds)"),
)

const fail = (message: string) => new CliExit({ code: 1, message })

const loadSigningKey = (keyFile: Option.Option<string>, dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    if (Option.isNone(keyFile)) {
      const pem = process.env[SIGNING_KEY_ENV]
      if (!pem) return yield* fail(`no signing key: pass --key FILE or set ${SIGNING_KEY_ENV}`)
      return yield* parseSigningKey(pem, SIGNING_KEY_ENV)
    }
    const file = path.resolve(keyFile.value)
    const policyDir = path.resolve(dir)
    if (file.startsWith(`${policyDir}${path.sep}`))
      return yield* fail(`refusing signing key ${keyFile.value}: it lies inside the policy directory`)
    if (yield* isTrackedByGit(file, path.dirname(file)))
      return yield* fail(`refusing signing key ${keyFile.value}: it is tracked by git`)
    const pem = yield* fs
      .readFileString(file)
      .pipe(Effect.mapError(() => fail(`cannot read ${keyFile.value}`)))
    return yield* parseSigningKey(pem, keyFile.value)
  }).pipe(
    Effect.catchTag("SigningKeyInvalid", (e) =>
      Effect.fail(fail(`invalid signing key ${e.source}: ${e.reason}`)),
    ),
  )

export const compileCommand = Command.make(
  "compile",
  { dir: dirOption, key, out, serial },
  ({ dir, key, out, serial }) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const signingKey = yield* loadSigningKey(key, dir)
      const result = yield* compileDirectory(dir).pipe(
        Effect.catchTag("PolicyDirectoryUnreadable", (e) => Effect.fail(fail(`${e.dir}: ${e.reason}`))),
      )
      yield* printDiagnostics(result, "stderr")
      if (hasErrors(result.diagnostics) || !result.policy || !result.index)
        return yield* fail(`${describeResult(dir, result)}; no bundle written`)
      const nowMs = yield* Clock.currentTimeMillis
      const bundleSerial = Option.getOrElse(serial, () => Math.floor(nowMs / 1000))
      if (!Number.isSafeInteger(bundleSerial) || bundleSerial < 1)
        return yield* fail(`--serial must be a positive integer, got ${bundleSerial}`)
      const payload = buildPayload({
        policy: result.policy,
        index: result.index,
        serial: bundleSerial,
        createdAt: new Date(nowMs),
        commit: yield* sourceCommit(dir),
      })
      const bytes = signBundle(payload, [signingKey])
      yield* fs
        .writeFileString(out, bytes)
        .pipe(Effect.mapError((e) => fail(`cannot write ${out}: ${e.message}`)))
      const digest = digestOf((JSON.parse(bytes) as { payload: string }).payload)
      yield* Console.log(
        [
          `wrote ${out} (${Buffer.byteLength(bytes)} bytes)`,
          `serial ${payload.serial}`,
          `digest ${digest}`,
          `key id ${signingKey.keyId}`,
          `source ${payload.source.commit}`,
          describeResult(dir, result),
        ].join("\n"),
      )
    }),
).pipe(
  Command.withDescription("Compile the policy directory into a signed bundle (exit 1 on policy errors)."),
)
