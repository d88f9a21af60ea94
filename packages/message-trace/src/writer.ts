/**
 * A batching writer for the trace: `write(line)` only appends to a buffer (safe to run
 * synchronously, as the ingress does); one writer fiber at a time takes everything buffered and
 * hands it to `record` (one round trip per shard: `TraceIndex.recordAll`), again until nothing
 * is left. Not a fiber and a round trip per line: those cost the message path more than the
 * trace itself (docs/scaling.md). Bounded: past `maxPending` lines waiting (Redis far behind),
 * a line is dropped and `overflow` runs — the relay's memory is not the trace's backlog. Closing
 * the scope waits up to `drainFor` for the writer.
 */
import { type Duration, Effect, FiberSet, type Scope } from "effect"

export interface BatchingWriterOptions<L> {
  /** Records a batch; its failures are the caller's to count (it never fails the writer). */
  readonly record: (lines: ReadonlyArray<L>) => Effect.Effect<void>
  readonly maxPending: number
  readonly overflow: Effect.Effect<void>
  readonly drainFor: Duration.DurationInput
}

export const makeBatchingWriter = <L>(
  options: BatchingWriterOptions<L>,
): Effect.Effect<(line: L) => Effect.Effect<void>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const inFlight = yield* FiberSet.make<void, never>()
    // Finalizers run in reverse: this one (wait for the writer) before the set's interruption.
    yield* Effect.addFinalizer(() =>
      FiberSet.awaitEmpty(inFlight).pipe(Effect.timeout(options.drainFor), Effect.ignore),
    )
    let pending: Array<L> = []
    let writing = false
    // Takes what is buffered until nothing is; the check and the end of `writing` are one step.
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      if (pending.length === 0) {
        writing = false
        return Effect.void
      }
      const lines = pending
      pending = []
      return options.record(lines).pipe(Effect.zipRight(drain))
    })
    return (line: L): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (pending.length >= options.maxPending) return options.overflow
        pending.push(line)
        if (writing) return Effect.void
        writing = true
        return FiberSet.run(inFlight, drain).pipe(Effect.asVoid)
      })
  })
