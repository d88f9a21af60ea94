/**
 * Polling for convergence in tests that watch real processes, Redis or sockets: a generous
 * deadline, never a timing assertion.
 */
import { Effect } from "effect"

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

/**
 * `waitFor` as an Effect, for tests that build layers: runs `check` until it yields a value other
 * than `undefined` or `false`. Real time (the deadline and the pause), also under a `TestClock`,
 * so a test that drives virtual time can still wait for real processes to catch up.
 */
export const pollEffect = <A, E, R>(
  what: string,
  check: Effect.Effect<A | undefined | false, E, R>,
  options: number | Omit<PollOptions, "output"> = {},
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const { timeoutMs = 20_000, intervalMs = 25 } =
      typeof options === "number" ? { timeoutMs: options } : options
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = yield* check
      if (value !== undefined && value !== false) return value
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, intervalMs)))
    }
  })
