/**
 * The checks every bundle passes before anyone acts on it: signature and digest (bundle
 * package), schema version, and decoding into the policy model. Pure apart from Effect.
 */
import { type BundleVerifyError, type TrustedKey, verifyBundle } from "@mailconnect/bundle"
import { BundlePayload } from "@mailconnect/policy"
import { Effect, Schema } from "effect"
import { BundlePayloadInvalid, BundleSchemaUnsupported } from "./errors"

/** Enough of any payload version to route it: every schema keeps these two fields. */
const PayloadHeader = Schema.Struct({ schema: Schema.Int, serial: Schema.Int })

export interface VerifiedHeader {
  readonly digest: string
  readonly keyId: string
  readonly bytes: string
  readonly schema: number
  readonly serial: number
  readonly payload: unknown
}

export interface CheckedBundle extends VerifiedHeader {
  readonly payload: BundlePayload
}

export type BundleCheckError = BundleVerifyError | BundleSchemaUnsupported | BundlePayloadInvalid

/** Signature, digest, and the `{schema, serial}` header; the rest of the payload unread. */
export const verifyHeader = (
  bytes: string,
  trusted: ReadonlyArray<TrustedKey>,
): Effect.Effect<VerifiedHeader, BundleVerifyError | BundlePayloadInvalid> =>
  Effect.gen(function* () {
    const verified = yield* verifyBundle(bytes, trusted)
    const header = yield* Schema.decodeUnknown(PayloadHeader)(verified.payload).pipe(
      Effect.mapError((e) => new BundlePayloadInvalid({ detail: e.message })),
    )
    return { ...verified, schema: header.schema, serial: header.serial }
  })

/** Full check for a reader supporting `supported` schema versions. */
export const checkBundle = (
  bytes: string,
  trusted: ReadonlyArray<TrustedKey>,
  supported: ReadonlyArray<number>,
): Effect.Effect<CheckedBundle, BundleCheckError> =>
  Effect.gen(function* () {
    const header = yield* verifyHeader(bytes, trusted)
    if (!supported.includes(header.schema))
      return yield* new BundleSchemaUnsupported({ schema: header.schema, supported })
    const payload = yield* Schema.decodeUnknown(BundlePayload)(header.payload).pipe(
      Effect.mapError((e) => new BundlePayloadInvalid({ detail: e.message })),
    )
    return { ...header, payload }
  })
