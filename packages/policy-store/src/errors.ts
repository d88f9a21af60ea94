/**
 * Why a bundle was refused (by `publish` or by a relay) or a store operation failed. The `_tag`
 * is the stable reason code used in logs, metrics (`reason` label) and CLI messages.
 * Signature and digest failures are the `Bundle*` errors of `@mailconnect/bundle`.
 */
import { Data } from "effect"

/** The payload's `schema` is not one this reader knows. */
export class BundleSchemaUnsupported extends Data.TaggedError("BundleSchemaUnsupported")<{
  readonly schema: number
  readonly supported: ReadonlyArray<number>
}> {}

/** Signed and intact, but the payload does not decode into the policy model of its schema. */
export class BundlePayloadInvalid extends Data.TaggedError("BundlePayloadInvalid")<{
  readonly detail: string
}> {}

/** Anti-rollback: the serial is not above the current (publish) or active (relay) one. */
export class BundleSerialNotAbove extends Data.TaggedError("BundleSerialNotAbove")<{
  readonly serial: number
  readonly current: number
}> {}

/**
 * Anti-rollback across the fleet: the serial is below (relay) or not above (publish) the highest
 * serial a relay has activated. A rollback is the old policy re-signed under a new, higher serial.
 */
export class BundleBelowFloor extends Data.TaggedError("BundleBelowFloor")<{
  readonly serial: number
  readonly floor: number
}> {}

/** The `current` pointer names a digest whose bytes are not in Redis. */
export class BundleMissing extends Data.TaggedError("BundleMissing")<{ readonly digest: string }> {}

/** The bytes stored under a digest hash to something else: the pointer or the bytes were altered. */
export class BundlePointerMismatch extends Data.TaggedError("BundlePointerMismatch")<{
  readonly pointer: string
  readonly actual: string
}> {}

/** The `current` pointer itself is not a well-formed record. */
export class PointerMalformed extends Data.TaggedError("PointerMalformed")<{ readonly detail: string }> {}

/** `publish`: live relays that could not read this bundle's schema (override with `--force`). */
export class FleetCannotReadSchema extends Data.TaggedError("FleetCannotReadSchema")<{
  readonly schema: number
  readonly relays: ReadonlyArray<string>
}> {}

/** `MAILCONNECT_TRUSTED_KEYS` names no key, or a key file cannot be read. */
export class TrustedKeysUnavailable extends Data.TaggedError("TrustedKeysUnavailable")<{
  readonly path: string
  readonly detail: string
}> {}
