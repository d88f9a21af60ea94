/**
 * `mailconnect policy compile [--dir DIR] --key FILE|--sign-command CMD --out FILE [--serial N]`:
 * check, resolve and sign the policy into a bundle file.
 *
 * The signing key comes from `--key FILE` or the `MAILCONNECT_SIGNING_KEY` environment
 * variable (PEM text) and is refused when it lies inside the policy directory or is tracked
 * by git. Or the key never comes here at all: `--sign-command CMD` (or `MAILCONNECT_SIGN_COMMAND`)
 * hands the canonical payload to an external signer (Vault transit, a KMS; `external-signer.ts`)
 * and `--sign-pubkey FILE` (or `MAILCONNECT_SIGN_PUBKEY`) names its public key, against which the
 * returned signature is verified before anything is written.
 *
 * The serial defaults to the current Unix time in seconds (Effect's Clock): it grows with every
 * compile, so relays accept each new bundle, and recompiling an old commit for an emergency
 * rollback still yields a newer serial. Replaying an old *bundle* stays refused.
 * CI that needs reproducible bytes passes `--serial` (e.g. the commit time).
 */
import { Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import type { SigningKey, TrustedKey } from "@mailconnect/bundle"
import {
  assembleBundle,
  digestOf,
  parseSigningKey,
  parseTrustedKey,
  payloadToSign,
  signBundle,
} from "@mailconnect/bundle"
import { buildPayload, compileDirectory, hasErrors } from "@mailconnect/policy-compiler"
import { Clock, Console, Effect, Option } from "effect"
import { CliExit } from "../exit"
import { runSignCommand, SIGN_COMMAND_ENV, SIGN_PUBKEY_ENV, SIGN_TIMEOUT_MS } from "./external-signer"
import { isTrackedByGit, sourceCommit } from "./policy-git"
import { describeResult, dirOption, printDiagnostics } from "./policy-options"

export const SIGNING_KEY_ENV = "MAILCONNECT_SIGNING_KEY"

const key = Options.file("key").pipe(
  Options.optional,
  Options.withDescription(`Ed25519 signing key (PKCS#8 PEM); default: the ${SIGNING_KEY_ENV} variable`),
)
const signCommand = Options.text("sign-command").pipe(
  Options.optional,
  Options.withDescription(
    `external signer: a shell command reading the bytes to sign on stdin and printing the Ed25519 signature (base64, or vault:vN:base64); default: the ${SIGN_COMMAND_ENV} variable`,
  ),
)
const signPubkey = Options.file("sign-pubkey").pipe(
  Options.optional,
  Options.withDescription(
    `the external signer's public key (SPKI PEM), to check its signature; default: the ${SIGN_PUBKEY_ENV} variable`,
  ),
)
const signTimeout = Options.integer("sign-timeout").pipe(
  Options.withDefault(SIGN_TIMEOUT_MS / 1000),
  Options.withDescription("seconds to wait for the external signer before giving up (default 60)"),
)
const out = Options.file("out").pipe(Options.withDescription("bundle file to write"))
const serial = Options.integer("serial").pipe(
  Options.optional,
  Options.withDescription("bundle serial (default: current Unix time in seconds)"),
)

const fail = (message: string) => new CliExit({ code: 1, message })

/** How the bundle gets signed: a key in hand, or an external signer and its public key. */
type Signer =
  | { readonly _tag: "Key"; readonly key: SigningKey }
  | { readonly _tag: "Command"; readonly command: string; readonly key: TrustedKey }

const fromEnv = (name: string) => {
  const value = process.env[name]?.trim()
  return value ? Option.some(value) : Option.none()
}

const loadExternalSigner = (command: string, pubkey: Option.Option<string>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const file = Option.orElse(pubkey, () => fromEnv(SIGN_PUBKEY_ENV))
    if (Option.isNone(file))
      return yield* fail(
        `--sign-command needs the signer's public key: --sign-pubkey FILE or ${SIGN_PUBKEY_ENV}`,
      )
    const pem = yield* fs
      .readFileString(file.value)
      .pipe(Effect.mapError(() => fail(`cannot read ${file.value}`)))
    const key = yield* parseTrustedKey(pem, file.value)
    return { _tag: "Command", command, key } satisfies Signer
  })

const loadSigner = (
  keyFile: Option.Option<string>,
  command: Option.Option<string>,
  pubkey: Option.Option<string>,
  dir: string,
): Effect.Effect<Signer, CliExit, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    if (Option.isSome(keyFile) && Option.isSome(command))
      return yield* fail("pass either --key or --sign-command, not both")
    if (Option.isSome(command)) return yield* loadExternalSigner(command.value, pubkey)
    if (Option.isSome(keyFile)) return { _tag: "Key", key: yield* loadSigningKey(keyFile, dir) } as const
    const envCommand = fromEnv(SIGN_COMMAND_ENV)
    if (Option.isSome(envCommand)) {
      if (process.env[SIGNING_KEY_ENV])
        return yield* fail(`both ${SIGNING_KEY_ENV} and ${SIGN_COMMAND_ENV} are set; keep one`)
      return yield* loadExternalSigner(envCommand.value, pubkey)
    }
    return { _tag: "Key", key: yield* loadSigningKey(keyFile, dir) } as const
  }).pipe(
    Effect.catchTag("SigningKeyInvalid", (e) =>
      Effect.fail(fail(`invalid signer public key ${e.source}: ${e.reason}`)),
    ),
  )

/** The envelope bytes: signed here with the key, or by the external signer and checked. */
const sign = (payload: unknown, signer: Signer, timeoutSeconds: number) =>
  signer._tag === "Key"
    ? Effect.succeed(signBundle(payload, [signer.key]))
    : Effect.gen(function* () {
        const { text, bytes } = payloadToSign(payload)
        const signature = yield* runSignCommand(signer.command, bytes, timeoutSeconds * 1000)
        return yield* assembleBundle(text, [{ key: signer.key, signature }]).pipe(
          Effect.mapError(() =>
            fail(
              `the signature does not verify with the public key ${signer.key.keyId} (--sign-pubkey): wrong key, wrong bytes or not Ed25519; no bundle written`,
            ),
          ),
        )
      })

const loadSigningKey = (keyFile: Option.Option<string>, dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    if (Option.isNone(keyFile)) {
      const pem = process.env[SIGNING_KEY_ENV]
      if (!pem)
        return yield* fail(
          `no signing key: pass --key FILE or --sign-command CMD, or set ${SIGNING_KEY_ENV} or ${SIGN_COMMAND_ENV}`,
        )
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
  { dir: dirOption, key, signCommand, signPubkey, signTimeout, out, serial },
  ({ dir, key, signCommand, signPubkey, signTimeout, out, serial }) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      if (signTimeout < 1) return yield* fail(`--sign-timeout must be at least 1 second, got ${signTimeout}`)
      const signer = yield* loadSigner(key, signCommand, signPubkey, dir)
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
      const bytes = yield* sign(payload, signer, signTimeout)
      yield* fs
        .writeFileString(out, bytes)
        .pipe(Effect.mapError((e) => fail(`cannot write ${out}: ${e.message}`)))
      const digest = digestOf((JSON.parse(bytes) as { payload: string }).payload)
      yield* Console.log(
        [
          `wrote ${out} (${Buffer.byteLength(bytes)} bytes)`,
          `serial ${payload.serial}`,
          `digest ${digest}`,
          `key id ${signer.key.keyId}${signer._tag === "Command" ? " (external signer)" : ""}`,
          `source ${payload.source.commit}`,
          describeResult(dir, result),
        ].join("\n"),
      )
    }),
).pipe(
  Command.withDescription("Compile the policy directory into a signed bundle (exit 1 on policy errors)."),
)
