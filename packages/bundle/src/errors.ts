import { Data } from "effect"

/** Bytes that are not a bundle envelope at all (not JSON, wrong format tag, missing fields). */
export class BundleMalformed extends Data.TaggedError("BundleMalformed")<{ readonly reason: string }> {}

/** The payload does not hash to the digest the envelope states: bytes were changed. */
export class BundleDigestMismatch extends Data.TaggedError("BundleDigestMismatch")<{
  readonly stated: string
  readonly actual: string
}> {}

/** No signature at all. */
export class BundleUnsigned extends Data.TaggedError("BundleUnsigned")<{}> {}

/** Signed, but by none of the keys this verifier trusts. */
export class BundleUnknownKey extends Data.TaggedError("BundleUnknownKey")<{
  readonly keyIds: ReadonlyArray<string>
}> {}

/** Signed by a trusted key id, but the signature does not verify over these bytes. */
export class BundleSignatureInvalid extends Data.TaggedError("BundleSignatureInvalid")<{
  readonly keyId: string
}> {}

export type BundleVerifyError =
  | BundleMalformed
  | BundleDigestMismatch
  | BundleUnsigned
  | BundleUnknownKey
  | BundleSignatureInvalid

/** A key file that is not an Ed25519 key of the expected kind. */
export class SigningKeyInvalid extends Data.TaggedError("SigningKeyInvalid")<{
  readonly source: string
  readonly reason: string
}> {}
