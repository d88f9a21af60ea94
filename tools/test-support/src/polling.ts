/**
 * Polling for convergence in tests that watch real processes, Redis or sockets: a generous
 * deadline, never a timing assertion.
 */

export interface PollOptions {
  readonly timeoutMs?: number
  readonly intervalMs?: number
  /** Appended to the timeout error, e.g. a child process's output. */
  readonly output?: () => string
}

/** Polls `check` until it yields a value other than `undefined` or `false`, and returns it. */
export const waitFor = async <A>(
  what: string,
  check: () => Promise<A | undefined | false> | A | undefined | false,
  options: number | PollOptions = {},
): Promise<A> => {
  const {
    timeoutMs = 60_000,
    intervalMs = 100,
    output,
  } = typeof options === "number" ? { timeoutMs: options } : options
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${output ? `\n--- output ---\n${output()}` : ""}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** Polls `check` until it returns true. */
export const eventually = async (
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> => {
  await waitFor(what, async () => (await check()) || undefined, { timeoutMs, intervalMs: 25 })
}
