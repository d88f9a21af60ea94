/**
 * What an operator's queue command acts on, as data: one entry per queued job (message,
 * recipient domain), the selection that picks entries (`--partner`, `--domain`, `--code`,
 * `--older-than`, `--state`, or message ids), and the plan of an action — which entries it
 * touches and which it leaves, with why. Pure: the Redis side (`queue-ops.ts`) lists the entries
 * and carries the plan out, so a dry run and the real run decide alike.
 */
import type { FailureCode } from "@mailconnect/failure-codes"
import { canonicalDomain } from "./message"

/**
 * Where a queued job stands. `deferred`: waiting for its next timeline point; `held`: put on
 * hold by an operator, never tried until released; `waiting`: due, waiting for a worker;
 * `active`: in an attempt right now; `failed`: BullMQ gave up on the job — its data no worker can
 * read (written by something other than a relay), or a processing error — so it waits for the
 * operator: retry it, or delete it.
 */
export const QUEUE_STATES = ["deferred", "held", "waiting", "active", "failed"] as const
export type QueueState = (typeof QUEUE_STATES)[number]

export interface HoldRecord {
  readonly at: number
  readonly by: string
  readonly reason?: string
}

/** One line of `queue list` (mailq): a job, not a message — a message has one per recipient domain. */
export interface QueueEntry {
  readonly jobId: string
  readonly messageId: string
  readonly domain: string
  /** The partner of the domain in the active policy (else as named when it was queued). */
  readonly partner: string | undefined
  readonly state: QueueState
  readonly sender: string
  readonly pending: ReadonlyArray<string>
  readonly queuedAt: number
  readonly attempts: number
  readonly nextAttemptAt?: number
  readonly code?: FailureCode
  readonly status?: string
  readonly isDsn: boolean
  /** Who held it, when and why (held entries only). */
  readonly hold?: HoldRecord
  /** Why BullMQ failed it (failed entries only). */
  readonly failedReason?: string
  /**
   * Its data do not decode (a newer version's, or written by something other than a relay):
   * message and domain come from the job id, and sender, recipients and timeline are unknown
   * (shown empty).
   */
  readonly unreadable?: true
}

export interface Selection {
  /** These messages (all their jobs); combined with the filters below when both are given. */
  readonly messageIds?: ReadonlyArray<string>
  readonly partner?: string
  readonly domain?: string
  readonly code?: FailureCode
  /** Queued at least this long ago. */
  readonly olderThanMs?: number
  readonly states?: ReadonlyArray<QueueState>
  /** Every queued job: required to act on the whole queue, so an empty filter is never a mistake. */
  readonly all?: boolean
}

/** True when the selection names nothing: acting on it would touch the whole queue by accident. */
export const isUnbounded = (s: Selection): boolean =>
  !s.all &&
  (s.messageIds ?? []).length === 0 &&
  s.partner === undefined &&
  s.domain === undefined &&
  s.code === undefined &&
  s.olderThanMs === undefined &&
  (s.states ?? []).length === 0

export const matches = (entry: QueueEntry, s: Selection, now: number): boolean =>
  (s.messageIds === undefined || s.messageIds.length === 0 || s.messageIds.includes(entry.messageId)) &&
  (s.partner === undefined || entry.partner === s.partner) &&
  (s.domain === undefined || entry.domain === canonicalDomain(s.domain)) &&
  (s.code === undefined || entry.code === s.code) &&
  (s.olderThanMs === undefined || now - entry.queuedAt >= s.olderThanMs) &&
  (s.states === undefined || s.states.length === 0 || s.states.includes(entry.state))

export type QueueAction =
  | { readonly action: "hold"; readonly reason?: string }
  | { readonly action: "release" }
  | { readonly action: "retry" }
  /** `ndr`: the sender gets a non-delivery report (OPERATOR_BOUNCE); `silent`: nobody is told. */
  | { readonly action: "delete"; readonly notify: "ndr" | "silent"; readonly reason?: string }
  | { readonly action: "bounce"; readonly reason: string }

export type ActionName = QueueAction["action"]

/**
 * Why an entry is left alone. `in-attempt`: waiting for a worker or being tried right now — its
 * data belongs to the worker until the attempt ends (run the command again after it);
 * `held`: retry does not override a hold (release it first); `not-held`: nothing to release;
 * `already-held`; `failed`: a failed job can be retried or deleted silently, nothing else (retry
 * it first: once it is deferred again it can be held, bounced or deleted with an NDR);
 * `unreadable`: its data do not decode, so nothing can be built from them (no hold, no NDR): it
 * can be retried or deleted silently; `changed`: it left the listed state between listing and
 * acting.
 */
export type SkipReason =
  | "in-attempt"
  | "held"
  | "not-held"
  | "already-held"
  | "failed"
  | "unreadable"
  | "changed"

export interface Skipped {
  readonly entry: QueueEntry
  readonly reason: SkipReason
}

export interface ActionPlan {
  readonly action: ActionName
  readonly touch: ReadonlyArray<QueueEntry>
  readonly skip: ReadonlyArray<Skipped>
}

const inAttempt = (state: QueueState) => state === "waiting" || state === "active"

/**
 * Whether `action` may act on an entry in `state` (`unreadable`: its data do not decode); the
 * reason when not.
 */
export const refusal = (
  action: QueueAction,
  state: QueueState,
  unreadable = false,
): SkipReason | undefined => {
  if (inAttempt(state)) return "in-attempt"
  if (state === "failed" || unreadable)
    return action.action === "retry" || (action.action === "delete" && action.notify === "silent")
      ? undefined
      : action.action === "release"
        ? "not-held"
        : unreadable
          ? "unreadable"
          : "failed"
  switch (action.action) {
    case "hold":
      return state === "held" ? "already-held" : undefined
    case "release":
      return state === "held" ? undefined : "not-held"
    case "retry":
      return state === "held" ? "held" : undefined
    case "delete":
    case "bounce":
      return undefined
  }
}

/** The plan, in the entries' order: what the action touches and what it leaves, with why. */
export const planAction = (action: QueueAction, entries: ReadonlyArray<QueueEntry>): ActionPlan => {
  const touch: Array<QueueEntry> = []
  const skip: Array<Skipped> = []
  for (const entry of entries) {
    const reason = refusal(action, entry.state, entry.unreadable === true)
    if (reason === undefined) touch.push(entry)
    else skip.push({ entry, reason })
  }
  return { action: action.action, touch, skip }
}

/** Distinct messages among entries: what the bulk confirmation counts (a message may have several jobs). */
export const messageCount = (entries: ReadonlyArray<QueueEntry>): number =>
  new Set(entries.map((e) => e.messageId)).size

/** A bulk action over more messages than this needs an explicit confirmation (`--yes`). */
export const BULK_CONFIRM_ABOVE = 10
