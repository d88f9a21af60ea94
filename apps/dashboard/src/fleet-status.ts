/**
 * The fleet page's data: live relays (heartbeats) against the serial the `current` pointer
 * names. The fleet has converged when at least one relay is live and every live relay runs
 * that serial — the same rule as `mailconnect fleet status --expect-serial`.
 */
import type { RelayHeartbeat } from "@mailconnect/fleet"

export interface FleetStatus {
  /** Serial of the published bundle; undefined before the first publish. */
  readonly currentSerial: number | undefined
  readonly publishedAt: string | undefined
  readonly relays: ReadonlyArray<RelayHeartbeat>
  /** Relays not running `currentSerial` (all of them when nothing is published). */
  readonly behind: ReadonlyArray<string>
  readonly converged: boolean
  /** Heartbeat records present but undecodable: shown, never hidden. */
  readonly unreadable: ReadonlyArray<string>
}

export const fleetStatus = (input: {
  readonly relays: ReadonlyArray<RelayHeartbeat>
  readonly unreadable: ReadonlyArray<string>
  readonly pointer: { readonly serial: number; readonly publishedAt: string } | undefined
}): FleetStatus => {
  const serial = input.pointer?.serial
  const behind = input.relays
    .filter((r) => serial === undefined || r.bundle?.serial !== serial)
    .map((r) => r.relayId)
  return {
    currentSerial: serial,
    publishedAt: input.pointer?.publishedAt,
    relays: input.relays,
    behind,
    converged: serial !== undefined && input.relays.length > 0 && behind.length === 0,
    unreadable: input.unreadable,
  }
}
