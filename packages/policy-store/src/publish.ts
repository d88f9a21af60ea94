/**
 * Publishing a signed bundle: the same verification a relay performs, a check that every live
 * relay can read the payload's schema, then the compare-on-serial swap, which also refuses a serial
 * at or below the fleet floor (the highest serial a relay has activated): relays would refuse it.
 * There is no override: a rollback re-signs the old policy under a new serial above the floor.
 * Refusals are tagged errors so the CLI can word them and exit 1.
 */
import type { BundleVerifyError, TrustedKey } from "@mailconnect/bundle"
import { BundlePayload, SUPPORTED_SCHEMAS } from "@mailconnect/policy"
import type { RedisCommandError } from "@mailconnect/redis-client"
import { Clock, Effect, Schema } from "effect"
import { verifyHeader } from "./check"
import {
  type BundleBelowFloor,
  BundlePayloadInvalid,
  type BundleSerialNotAbove,
  FleetCannotReadSchema,
} from "./errors"
import { PolicyStore, type SwapResult } from "./store"

/** A live relay as far as publishing cares (a subset of its heartbeat). */
export interface BundleReader {
  readonly relayId: string
  readonly supportedSchemas: ReadonlyArray<number>
}

export interface PublishRequest {
  readonly bytes: string
  readonly trusted: ReadonlyArray<TrustedKey>
  readonly readers: ReadonlyArray<BundleReader>
  /** Publish even if some live relay cannot read the schema (it will keep its bundle). */
  readonly force: boolean
}

export interface Published extends SwapResult {
  readonly digest: string
  readonly serial: number
  readonly schema: number
  readonly keyId: string
}

export type PublishError =
  | BundleVerifyError
  | BundlePayloadInvalid
  | FleetCannotReadSchema
  | BundleSerialNotAbove
  | BundleBelowFloor
  | RedisCommandError

export const publishBundle = Effect.fn("PolicyStore.publish")(function* (request: PublishRequest) {
  const store = yield* PolicyStore
  const header = yield* verifyHeader(request.bytes, request.trusted)
  const unable = request.readers.filter((r) => !r.supportedSchemas.includes(header.schema))
  if (unable.length > 0 && !request.force)
    return yield* new FleetCannotReadSchema({ schema: header.schema, relays: unable.map((r) => r.relayId) })
  // Payload versions this code knows are decoded fully, so a malformed payload never ships.
  if (SUPPORTED_SCHEMAS.includes(header.schema))
    yield* Schema.decodeUnknown(BundlePayload)(header.payload).pipe(
      Effect.mapError((e) => new BundlePayloadInvalid({ detail: e.message })),
    )
  const now = yield* Clock.currentTimeMillis
  const swapped = yield* store.swap({
    bytes: request.bytes,
    digest: header.digest,
    serial: header.serial,
    schema: header.schema,
    publishedAt: new Date(now).toISOString(),
  })
  const published: Published = {
    ...swapped,
    digest: header.digest,
    serial: header.serial,
    schema: header.schema,
    keyId: header.keyId,
  }
  return published
}) as (request: PublishRequest) => Effect.Effect<Published, PublishError, PolicyStore>
