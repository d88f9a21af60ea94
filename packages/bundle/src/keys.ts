/**
 * Ed25519 signing keys. Private keys are PKCS#8 PEM, public keys SPKI PEM. A key id is the first
 * 16 hex digits of SHA-256 over the SPKI DER, so a relay can pick the right trusted key without
 * trying them all and an operator can tell keys apart in logs.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto"
import { Effect } from "effect"
import { SigningKeyInvalid } from "./errors"

export interface TrustedKey {
  readonly keyId: string
  readonly key: KeyObject
}

export interface SigningKey {
  readonly keyId: string
  readonly key: KeyObject
}

export const keyIdOf = (publicKey: KeyObject): string =>
  createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16)

export const generateSigningKeyPair = (): { privatePem: string; publicPem: string; keyId: string } => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519")
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    keyId: keyIdOf(publicKey),
  }
}

const requireEd25519 = (key: KeyObject, source: string) =>
  key.asymmetricKeyType === "ed25519"
    ? Effect.succeed(key)
    : Effect.fail(
        new SigningKeyInvalid({ source, reason: `expected an ed25519 key, got ${key.asymmetricKeyType}` }),
      )

/** `source` names where the PEM came from (a path or an env variable), for the error only. */
export const parseSigningKey = (pem: string, source: string): Effect.Effect<SigningKey, SigningKeyInvalid> =>
  Effect.try({
    try: () => createPrivateKey(pem),
    catch: (e) => new SigningKeyInvalid({ source, reason: (e as Error).message }),
  }).pipe(
    Effect.flatMap((key) => requireEd25519(key, source)),
    Effect.map((key) => ({ key, keyId: keyIdOf(createPublicKey(key)) })),
  )

export const parseTrustedKey = (pem: string, source: string): Effect.Effect<TrustedKey, SigningKeyInvalid> =>
  Effect.try({
    try: () => createPublicKey(pem),
    catch: (e) => new SigningKeyInvalid({ source, reason: (e as Error).message }),
  }).pipe(
    Effect.flatMap((key) => requireEd25519(key, source)),
    Effect.map((key) => ({ key, keyId: keyIdOf(key) })),
  )

/** DER of an SPKI for Ed25519 up to the key bytes (RFC 8410): 30 2a 30 05 06 03 2b 65 70 03 21 00. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex")

/**
 * A public key given as its 32 raw bytes — how Vault's transit engine and most KMS APIs hand out
 * an Ed25519 key — as a trusted key with its SPKI PEM.
 */
export const publicKeyFromRaw = (
  raw: Uint8Array,
  source: string,
): Effect.Effect<TrustedKey & { readonly publicPem: string }, SigningKeyInvalid> =>
  raw.length !== 32
    ? Effect.fail(
        new SigningKeyInvalid({ source, reason: `an Ed25519 public key has 32 bytes, got ${raw.length}` }),
      )
    : Effect.try({
        try: () =>
          createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" }),
        catch: (e) => new SigningKeyInvalid({ source, reason: (e as Error).message }),
      }).pipe(
        Effect.map((key) => ({
          key,
          keyId: keyIdOf(key),
          publicPem: key.export({ type: "spki", format: "pem" }).toString(),
        })),
      )
