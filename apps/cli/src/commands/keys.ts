/**
 * `mailconnect keys generate --out DIR`: a fresh Ed25519 signing key pair for bundles.
 * `mailconnect keys import-public --raw-base64 B64 --out FILE`: an external signer's public key
 * (Vault transit's `public_key`, a KMS's raw key) as the SPKI PEM `--sign-pubkey` and the relays'
 * MAILCONNECT_TRUSTED_KEYS read.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { generateSigningKeyPair, publicKeyFromRaw } from "@mailconnect/bundle"
import { Console, Effect } from "effect"
import { CliExit } from "../exit"
import { missingSubcommand } from "../usage"

const out = Options.directory("out").pipe(
  Options.withDescription("directory for signing.key and signing.pub"),
)
const force = Options.boolean("force").pipe(Options.withDescription("overwrite an existing key pair"))

const generate = Command.make("generate", { out, force }, ({ out, force }) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const keyFile = path.join(out, "signing.key")
    const pubFile = path.join(out, "signing.pub")
    if (!force && (yield* fs.exists(keyFile))) {
      return yield* new CliExit({ code: 1, message: `${keyFile} exists; pass --force to replace it` })
    }
    yield* fs.makeDirectory(out, { recursive: true })
    const pair = generateSigningKeyPair()
    yield* fs.writeFileString(keyFile, pair.privatePem, { mode: 0o600 })
    yield* fs.chmod(keyFile, 0o600)
    yield* fs.writeFileString(pubFile, pair.publicPem)
    yield* Console.log(
      `key id ${pair.keyId}\nprivate key ${keyFile} (mode 0600, keep it out of git)\npublic key ${pubFile}`,
    )
  }),
).pipe(Command.withDescription("Generate an Ed25519 key pair for signing policy bundles."))

const rawBase64 = Options.text("raw-base64").pipe(
  Options.withDescription("the 32-byte Ed25519 public key, base64 (e.g. Vault transit's public_key)"),
)
const pubOut = Options.file("out").pipe(Options.withDescription("public key file to write (SPKI PEM)"))

const importPublic = Command.make("import-public", { rawBase64, out: pubOut }, ({ rawBase64, out }) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = rawBase64.trim()
    const raw = Buffer.from(text, "base64")
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || raw.toString("base64") !== text)
      return yield* new CliExit({ code: 1, message: "--raw-base64 is not base64" })
    const key = yield* publicKeyFromRaw(raw, "--raw-base64").pipe(
      Effect.mapError((e) => new CliExit({ code: 1, message: `invalid public key: ${e.reason}` })),
    )
    yield* fs.writeFileString(out, key.publicPem)
    yield* Console.log(`key id ${key.keyId}\npublic key ${out}`)
  }),
).pipe(
  Command.withDescription(
    "Write an external signer's raw Ed25519 public key (base64) as a PEM file for --sign-pubkey and MAILCONNECT_TRUSTED_KEYS.",
  ),
)

export const keysCommand = Command.make("keys", {}, missingSubcommand("keys")).pipe(
  Command.withDescription("Manage bundle signing keys."),
  Command.withSubcommands([generate, importPublic]),
)
