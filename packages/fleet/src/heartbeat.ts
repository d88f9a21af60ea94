/**
 * The heartbeat record each relay writes. Readers ignore fields they do not know, so a newer
 * relay can add figures (e.g. `queues`) without breaking an older CLI; add new fields as
 * `Schema.optional` so older relays' records still decode.
 */
import { Schema } from "effect"

export const RelayRole = Schema.Literal("ingress", "delivery")
export type RelayRole = typeof RelayRole.Type

export const ActiveBundleRef = Schema.Struct({
  serial: Schema.Int,
  digest: Schema.String,
  schema: Schema.Int,
})
export type ActiveBundleRef = typeof ActiveBundleRef.Type

export const RelayHeartbeat = Schema.Struct({
  relayId: Schema.String,
  version: Schema.String,
  hostname: Schema.String,
  pid: Schema.Int,
  roles: Schema.Array(RelayRole),
  /** The bundle in force; null until the relay has activated one. */
  bundle: Schema.NullOr(ActiveBundleRef),
  /** Bundle payload `schema` versions this relay can read; `publish` checks these. */
  supportedSchemas: Schema.Array(Schema.Int),
  draining: Schema.Boolean,
  /** Where `/healthz`, `/readyz` and `/metrics` answer. */
  http: Schema.optional(Schema.Struct({ host: Schema.String, port: Schema.Int })),
  startedAt: Schema.String,
  updatedAt: Schema.String,
  /** Per-queue figures, added by delivery work; free-form so this package need not know them. */
  queues: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
})
export type RelayHeartbeat = typeof RelayHeartbeat.Type

export const RelayHeartbeatJson = Schema.parseJson(RelayHeartbeat)
