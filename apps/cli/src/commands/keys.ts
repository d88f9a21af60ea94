/** `mailconnect keys generate --out DIR`: a fresh Ed25519 signing key pair for bundles. */
import { Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { generateSigningKeyPair } from "@mailconnect/bundle"
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

export const keysCommand = Command.make("keys", {}, missingSubcommand("keys")).pipe(
  Command.withDescription("Manage bundle signing keys."),
  Command.withSubcommands([generate]),
)
