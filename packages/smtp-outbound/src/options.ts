/** Relay-side settings of outbound delivery (not policy): timeouts, reuse bounds, EHLO name, MX port. */
import { Context, Layer } from "effect"

export interface Timeouts {
  readonly connectMs: number
  readonly greetingMs: number
  /** Each command's reply, and silence during DATA. */
  readonly commandMs: number
  readonly tlsMs: number
  /** The reply to the final dot, after the body went out. */
  readonly dataMs: number
}

export interface OutboundSettings {
  readonly ehloName: string
  /** Port for MX hosts (25; the lab and tests use another). */
  readonly mxPort: number
  readonly timeouts: Timeouts
  /** A verified connection carries at most this many messages... */
  readonly maxMessagesPerConnection: number
  /** ...and is closed after lying idle this long. */
  readonly idleTimeoutMs: number
  /** Addresses tried per delivery before giving up on this attempt. */
  readonly maxAddresses: number
  /** Concurrent deliveries per destination (resolved next hop). */
  readonly perDestination: number
  /** Consecutive connect/TLS failures that open a destination's circuit breaker... */
  readonly breakerThreshold: number
  /** ...for this long; then one attempt probes. */
  readonly breakerCooldownMs: number
}

export const defaultSettings: OutboundSettings = {
  ehloName: "localhost",
  mxPort: 25,
  timeouts: { connectMs: 30_000, greetingMs: 300_000, commandMs: 300_000, tlsMs: 60_000, dataMs: 600_000 },
  maxMessagesPerConnection: 100,
  idleTimeoutMs: 5_000,
  maxAddresses: 5,
  perDestination: 10,
  breakerThreshold: 5,
  breakerCooldownMs: 60_000,
}

export class OutboundConfig extends Context.Tag("@mailconnect/OutboundConfig")<
  OutboundConfig,
  OutboundSettings
>() {
  static readonly layer = (settings: Partial<OutboundSettings> = {}) =>
    Layer.succeed(OutboundConfig, {
      ...defaultSettings,
      ...settings,
      timeouts: { ...defaultSettings.timeouts, ...settings.timeouts },
    })
}
