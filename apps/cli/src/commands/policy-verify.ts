/**
 * `mailconnect policy verify FILE --pubkey FILE`: exit 0 only if the bundle's digest holds, it
 * is signed by one of the given public keys, and its payload is a policy this code can read.
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { parseTrustedKey, verifyBundle } from "@mailconnect/bundle"
import { BundlePayload, SUPPORTED_SCHEMAS } from "@mailconnect/policy"
import { Console, Effect, Schema } from "effect"
import { CliExit } from "../exit"

const file = Args.file({ name: "FILE", exists: "yes" }).pipe(Args.withDescription("bundle file"))
const pubkey = Options.file("pubkey", { exists: "yes" }).pipe(
  Options.repeated,
  Options.withDescription("trusted Ed25519 public key (SPKI PEM); repeat for key rotation"),
)

const fail = (message: string) => new CliExit({ code: 1, message: `verification failed: ${message}` })

export const verifyCommand = Command.make("verify", { file, pubkey }, ({ file, pubkey }) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (pubkey.length === 0)
      return yield* new CliExit({ code: 2, message: "at least one --pubkey FILE is required" })
    const trusted = yield* Effect.forEach(pubkey, (keyFile) =>
      fs.readFileString(keyFile).pipe(
        Effect.mapError(() => fail(`cannot read ${keyFile}`)),
        Effect.flatMap((pem) => parseTrustedKey(pem, keyFile)),
      ),
    )
    const bytes = yield* fs.readFileString(file).pipe(Effect.mapError(() => fail(`cannot read ${file}`)))
    const verified = yield* verifyBundle(bytes, trusted)
    const payload = yield* Schema.decodeUnknown(BundlePayload)(verified.payload).pipe(
      Effect.mapError(() => fail("the payload is not a policy bundle")),
    )
    if (!SUPPORTED_SCHEMAS.includes(payload.schema))
      return yield* fail(
        `payload schema ${payload.schema} is not supported (supported: ${SUPPORTED_SCHEMAS.join(", ")})`,
      )
    yield* Console.log(
      [
        `ok ${file}`,
        `serial ${payload.serial}`,
        `digest ${verified.digest}`,
        `key id ${verified.keyId}`,
        `schema ${payload.schema}`,
        `created ${payload.createdAt}`,
        `source ${payload.source.commit}`,
        `partners ${Object.keys(payload.policy.partners).length}`,
      ].join("\n"),
    )
  }).pipe(
    Effect.catchTags({
      SigningKeyInvalid: (e) => Effect.fail(fail(`invalid public key ${e.source}: ${e.reason}`)),
      BundleMalformed: (e) => Effect.fail(fail(`malformed bundle: ${e.reason}`)),
      BundleDigestMismatch: (e) =>
        Effect.fail(fail(`digest mismatch: states ${e.stated}, payload is ${e.actual}`)),
      BundleUnsigned: () => Effect.fail(fail("the bundle carries no signature")),
      BundleUnknownKey: (e) => Effect.fail(fail(`signed by unknown key id(s) ${e.keyIds.join(", ")}`)),
      BundleSignatureInvalid: (e) => Effect.fail(fail(`signature by key id ${e.keyId} does not verify`)),
    }),
  ),
).pipe(
  Command.withDescription("Verify a bundle's digest and Ed25519 signature; print serial, digest and key id."),
)
