/**
 * The bundle envelope: the canonical payload text kept verbatim as a string (so its exact bytes
 * survive any JSON tooling), its SHA-256 digest, and detached Ed25519 signatures over the payload
 * bytes. The envelope is itself canonical JSON, so the same payload and keys give the same file.
 *
 * Verification order follows OPA's bundle verifier: parse, digest, then signature by a trusted
 * key id. Nothing about the payload is trusted until all three hold.
 */
import { createHash, sign, verify } from "node:crypto"
import { Effect } from "effect"
import { canonicalize } from "./canonical"
import {
  BundleDigestMismatch,
  BundleMalformed,
  BundleSignatureInvalid,
  BundleUnknownKey,
  BundleUnsigned,
  type BundleVerifyError,
} from "./errors"
import type { SigningKey, TrustedKey } from "./keys"

export const ENVELOPE_FORMAT = "mailconnect-bundle/1"

export interface Signature {
  readonly alg: "ed25519"
  readonly keyId: string
  readonly sig: string
}

export interface Envelope {
  readonly format: typeof ENVELOPE_FORMAT
  readonly digest: string
  readonly payload: string
  readonly signatures: ReadonlyArray<Signature>
}

export interface VerifiedBundle {
  /** `sha256:<hex>` of the payload bytes; the bundle's identity in Redis and on disk. */
  readonly digest: string
  readonly keyId: string
  /** The payload parsed as JSON; decoding it into a policy model is the caller's job. */
  readonly payload: unknown
  /** The envelope bytes exactly as verified, for storing as last-known-good. */
  readonly bytes: string
}

export const digestOf = (payload: string): string =>
  `sha256:${createHash("sha256").update(payload, "utf8").digest("hex")}`

/** Canonicalizes `payload`, signs it with every key given (rotation: sign with old and new). */
export const signBundle = (payload: unknown, keys: ReadonlyArray<SigningKey>): string => {
  const text = canonicalize(payload)
  const data = Buffer.from(text, "utf8")
  const signatures = keys.map(
    (k): Signature => ({ alg: "ed25519", keyId: k.keyId, sig: sign(null, data, k.key).toString("base64") }),
  )
  const envelope: Envelope = { format: ENVELOPE_FORMAT, digest: digestOf(text), payload: text, signatures }
  return canonicalize(envelope)
}

/**
 * The exact bytes an external signer (Vault transit, a cloud KMS, an HSM) signs for `payload`:
 * its canonical JSON, UTF-8. The signer never sees anything else, and never needs to.
 */
export const payloadToSign = (payload: unknown): { readonly text: string; readonly bytes: Buffer } => {
  const text = canonicalize(payload)
  return { text, bytes: Buffer.from(text, "utf8") }
}

/** A detached Ed25519 signature made elsewhere, with the public key it is claimed to be by. */
export interface ExternalSignature {
  readonly key: TrustedKey
  readonly signature: Uint8Array
}

/**
 * The envelope for `text` (from `payloadToSign`) with signatures made outside this process. Each
 * one is verified against its public key first: a signer that answered with another key's
 * signature, a truncated one or garbage yields `BundleSignatureInvalid`, never a bundle that the
 * relays would refuse later.
 */
export const assembleBundle = (
  text: string,
  signatures: ReadonlyArray<ExternalSignature>,
): Effect.Effect<string, BundleSignatureInvalid | BundleUnsigned> =>
  Effect.gen(function* () {
    if (signatures.length === 0) return yield* new BundleUnsigned()
    const data = Buffer.from(text, "utf8")
    const entries: Array<Signature> = []
    for (const { key, signature } of signatures) {
      const raw = Buffer.from(signature)
      if (raw.length !== 64 || !verify(null, data, key.key, raw))
        return yield* new BundleSignatureInvalid({ keyId: key.keyId })
      entries.push({ alg: "ed25519", keyId: key.keyId, sig: raw.toString("base64") })
    }
    const envelope: Envelope = {
      format: ENVELOPE_FORMAT,
      digest: digestOf(text),
      payload: text,
      signatures: entries,
    }
    return canonicalize(envelope)
  })

const parseEnvelope = (bytes: string): Effect.Effect<Envelope, BundleMalformed> =>
  Effect.try({
    try: () => JSON.parse(bytes) as unknown,
    catch: () => new BundleMalformed({ reason: "not JSON" }),
  }).pipe(
    Effect.flatMap((raw) => {
      const e = raw as Partial<Envelope> | null
      if (typeof e !== "object" || e === null)
        return Effect.fail(new BundleMalformed({ reason: "not an object" }))
      if (e.format !== ENVELOPE_FORMAT)
        return Effect.fail(
          new BundleMalformed({ reason: `unknown envelope format ${JSON.stringify(e.format)}` }),
        )
      if (typeof e.payload !== "string" || typeof e.digest !== "string")
        return Effect.fail(new BundleMalformed({ reason: "payload or digest missing" }))
      if (!Array.isArray(e.signatures))
        return Effect.fail(new BundleMalformed({ reason: "signatures missing" }))
      // Only the canonical form is accepted, so no two byte strings carry the same bundle.
      if (canonicalize(e) !== bytes)
        return Effect.fail(new BundleMalformed({ reason: "envelope is not canonical" }))
      return Effect.succeed(e as Envelope)
    }),
  )

export const verifyBundle = (
  bytes: string,
  trusted: ReadonlyArray<TrustedKey>,
): Effect.Effect<VerifiedBundle, BundleVerifyError> =>
  Effect.gen(function* () {
    const envelope = yield* parseEnvelope(bytes)
    const actual = digestOf(envelope.payload)
    if (actual !== envelope.digest)
      return yield* new BundleDigestMismatch({ stated: envelope.digest, actual })
    if (envelope.signatures.length === 0) return yield* new BundleUnsigned()
    const data = Buffer.from(envelope.payload, "utf8")
    const known = envelope.signatures.filter((s) => trusted.some((t) => t.keyId === s.keyId))
    if (known.length === 0)
      return yield* new BundleUnknownKey({ keyIds: envelope.signatures.map((s) => s.keyId) })
    for (const signature of known) {
      const key = trusted.find((t) => t.keyId === signature.keyId)!
      const raw = typeof signature.sig === "string" ? Buffer.from(signature.sig, "base64") : Buffer.alloc(0)
      // Base64 has spare bits in its last character; insist on the one true encoding.
      const ok =
        signature.alg === "ed25519" &&
        raw.toString("base64") === signature.sig &&
        verify(null, data, key.key, raw)
      if (!ok) return yield* new BundleSignatureInvalid({ keyId: signature.keyId })
    }
    const payload = yield* Effect.try({
      try: () => JSON.parse(envelope.payload) as unknown,
      catch: () => new BundleMalformed({ reason: "payload is not JSON" }),
    })
    return { digest: actual, keyId: known[0]!.keyId, payload, bytes }
  })

/** Reads the digest an envelope claims without verifying anything (for logs about refused bytes). */
export const statedDigest = (bytes: string): string | undefined => {
  try {
    const e = JSON.parse(bytes) as { digest?: unknown }
    return typeof e.digest === "string" ? e.digest : undefined
  } catch {
    return undefined
  }
}
