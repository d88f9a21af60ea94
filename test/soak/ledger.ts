/**
 * The soak's ledger and its verdict: every 250 a relay gave (with the id the message carries in
 * `X-MC-Soak-Id`), every message the partner received (mode, TLS, acknowledged or cut before the
 * final reply), every DSN at the sender's mailbox, and every fault injected with its time span.
 * `judge` proves the end state from these records alone — nothing is read back from the relays.
 * Pure: no I/O, so its rules are the same whatever produced the records.
 */
import type { PartnerDelivery } from "./flaky-partner"

export const SOAK_HEADER = "X-MC-Soak-Id"

/** What a message was sent to: the enforce partner, a recipient it rejects, a partner that always defers. */
export type MessageKind = "deliver" | "reject" | "defer"

export interface Accepted {
  readonly id: string
  readonly kind: MessageKind
  readonly relay: string
  /** The relay's queue id from its 250 reply. */
  readonly queueId: string | undefined
  readonly acceptedAt: number
}

/**
 * When the relay queued a message: its queue id starts with the receiving relay's clock in base
 * 36 (taken right after queuedAt), so it is queuedAt to the millisecond — the 250 itself may come
 * seconds later (Redis paused or failing over between the write and the reply). The 250's time
 * when the id is not one.
 */
export const queuedAtOf = (a: Accepted): number => {
  const stamp = a.queueId ? Number.parseInt(a.queueId.split("-")[0] ?? "", 36) : Number.NaN
  return Number.isFinite(stamp) && stamp <= a.acceptedAt && stamp > a.acceptedAt - 600_000
    ? stamp
    : a.acceptedAt
}

export interface Dsn {
  readonly id: string
  readonly action: "delayed" | "failed"
  readonly at: number
}

export interface Fault {
  readonly kind: string
  readonly target: string
  readonly from: number
  to: number
}

export interface Retry {
  readonly warnAfter: number
  readonly expireAfter: number
}

export interface Figures {
  readonly minutes: number
  readonly relays: number
  readonly sent: number
  readonly accepted: number
  readonly refused: Record<string, number>
  readonly delivered: number
  readonly duplicates: number
  readonly duplicatesByCause: Record<string, number>
  readonly bounced: number
  readonly dsns: { readonly delayed: number; readonly failed: number }
  readonly faults: Record<string, number>
  /** Connections the partner took, by the mode they met (proves the partner faults bit). */
  readonly partnerConnections: Readonly<Record<string, number>>
  /** Message copies the partner received, and those cut before the final reply. */
  readonly partnerCopies: number
  readonly droppedFinalReplies: number
  /** Messages delivered or bounced although the client saw no 250 (stored, reply lost). */
  readonly unacknowledgedSettled: number
  readonly relayRestarts: number
  readonly sigtermExitMs: { readonly max: number; readonly count: number }
}

export interface Verdict {
  readonly lost: ReadonlyArray<string>
  readonly unexplainedDuplicates: ReadonlyArray<string>
  readonly plaintext: ReadonlyArray<string>
  readonly rejectedDelivered: ReadonlyArray<string>
  readonly unbounced: ReadonlyArray<string>
  readonly bouncedEarly: ReadonlyArray<string>
  readonly unexpectedDsns: ReadonlyArray<string>
  /** Ids delivered or bounced although the client saw no 250 (allowed; a figure). */
  readonly unacknowledged: ReadonlyArray<string>
  readonly duplicatesByCause: Record<string, number>
}

export const soakIdOf = (body: string): string | undefined =>
  new RegExp(`^${SOAK_HEADER}: (s-\\d+)\\r?$`, "m").exec(body)?.[1]

/** A DSN's original message id and its action (from the message/delivery-status part). */
export const dsnOf = (body: string, at: number): Dsn | undefined => {
  const id = soakIdOf(body)
  const action = /^Action: (delayed|failed)\r?$/im.exec(body)?.[1]?.toLowerCase()
  return id && (action === "delayed" || action === "failed") ? { id, action, at } : undefined
}

/**
 * Why an earlier copy of a message was sent again: the partner cut the connection before its
 * final reply, or a fault around that time kept the relay from recording the 250 (its process
 * killed or stopped, Redis restarted, paused or failing over) — stall recovery then re-runs it.
 */
const causeOf = (copy: PartnerDelivery, faults: ReadonlyArray<Fault>): string | undefined => {
  if (!copy.acknowledged) return "dropped-final-reply"
  // The partner's connections reset (a mode switch) just after it had the body: its 250 was lost.
  const reset = faults.find(
    (f) => f.kind === "partner-reset" && f.from >= copy.at - 1_000 && f.from <= copy.at + 2_000,
  )
  if (reset) return "partner-reset-before-reply"
  const around = faults.find(
    (f) =>
      (f.kind.startsWith("relay-") || f.kind.startsWith("redis-") || f.kind === "sentinel-failover") &&
      f.from <= copy.at + 5_000 &&
      f.to >= copy.at - 10_000,
  )
  return around?.kind
}

export const judge = (
  accepted: ReadonlyArray<Accepted>,
  deliveries: ReadonlyArray<PartnerDelivery>,
  dsns: ReadonlyArray<Dsn>,
  faults: ReadonlyArray<Fault>,
  deferRetry: Retry,
): Verdict => {
  const copies = new Map<string, Array<PartnerDelivery>>()
  for (const d of deliveries) {
    if (d.mailFrom === "") continue
    const id = soakIdOf(d.body)
    if (id) copies.set(id, [...(copies.get(id) ?? []), d])
  }
  const dsnsOf = new Map<string, Array<Dsn>>()
  for (const d of dsns) dsnsOf.set(d.id, [...(dsnsOf.get(d.id) ?? []), d])
  const byCause: Record<string, number> = {}
  const unexplained: Array<string> = []
  for (const [id, list] of copies) {
    const sorted = [...list].sort((a, b) => a.at - b.at)
    for (const copy of sorted.slice(0, -1)) {
      const cause = causeOf(copy, faults)
      if (cause === undefined) unexplained.push(`${id}@${new Date(copy.at).toISOString()}`)
      else byCause[cause] = (byCause[cause] ?? 0) + 1
    }
  }
  const kindOf = new Map(accepted.map((a) => [a.id, a]))
  const failed = (id: string) => (dsnsOf.get(id) ?? []).filter((d) => d.action === "failed")
  return {
    lost: accepted
      .filter((a) => a.kind === "deliver" && !(copies.get(a.id) ?? []).some((c) => c.acknowledged))
      .map((a) => a.id),
    unexplainedDuplicates: unexplained,
    plaintext: deliveries
      .filter((d) => !d.secure || d.mode === "plaintext")
      .map((d) => soakIdOf(d.body) ?? "?"),
    rejectedDelivered: accepted.filter((a) => a.kind !== "deliver" && copies.has(a.id)).map((a) => a.id),
    unbounced: accepted.filter((a) => a.kind !== "deliver" && failed(a.id).length === 0).map((a) => a.id),
    // A deferred message's delay warning and NDR come at its timeline's points (queuedAt +
    // warnAfter / expireAfter), never earlier; listed with how long after queuedAt they came.
    bouncedEarly: accepted
      .filter((a) => a.kind === "defer")
      .flatMap((a) =>
        (dsnsOf.get(a.id) ?? [])
          .filter(
            (d) =>
              d.at <
              queuedAtOf(a) - 250 + (d.action === "failed" ? deferRetry.expireAfter : deferRetry.warnAfter),
          )
          .map((d) => `${a.id}:${d.action}:+${d.at - queuedAtOf(a)}ms`),
      ),
    // A message the client got no 250 for may still have been stored (the reply was lost, or a
    // 451 came after the write, e.g. Redis WAIT timing out): it is delivered or bounced like any
    // other — at-least-once from the sender's side — and counted in `unacknowledged`.
    unexpectedDsns: dsns
      .filter((d) => {
        const a = kindOf.get(d.id)
        return a !== undefined && (a.kind === "deliver" || (d.action === "delayed" && a.kind === "reject"))
      })
      .map((d) => `${d.id}:${d.action}`),
    unacknowledged: [...new Set([...copies.keys(), ...dsnsOf.keys()])].filter((id) => !kindOf.has(id)),
    duplicatesByCause: byCause,
  }
}
