/**
 * How many bytes of message bodies the listeners of one process hold in memory at once (the DATA
 * of every open transaction, until it is queued). A flood of large messages must not take the
 * relay's memory: a transaction whose next chunk would go over the budget stops being buffered
 * and is answered 452 4.3.1 (insufficient system storage — the sender tries again later); what
 * it held is released at once. Shared by every listener of an ingress.
 */
export interface DataBudget {
  /** Takes `bytes` if they fit; false (nothing taken) when they would go over. */
  readonly take: (bytes: number) => boolean
  readonly release: (bytes: number) => void
  readonly used: () => number
}

export const makeDataBudget = (limit: number): DataBudget => {
  let used = 0
  return {
    take: (bytes) => {
      if (used + bytes > limit) return false
      used += bytes
      return true
    },
    release: (bytes) => {
      used = Math.max(0, used - bytes)
    },
    used: () => used,
  }
}
