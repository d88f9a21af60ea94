/**
 * `LastKnownGood`: the envelope bytes of the bundle last activated, on local disk under the
 * relay's state directory, so a relay can start (and keep its anti-rollback floor) while Redis
 * is down, empty or serving a bad bundle. Bytes are re-verified on read: the disk is not trusted
 * more than Redis. Writes go to a temporary file, are synced, then renamed over the old copy.
 * A failed write (disk full, read-only) is logged and counted, never fatal.
 *
 * Touches: `<dir>/policy-bundle.json` and its temporary sibling only.
 */
import { FileSystem, Path } from "@effect/platform"
import { Context, Effect, Layer, Metric, Option } from "effect"
import { lastKnownGoodWriteFailures } from "./metrics"

export const LAST_KNOWN_GOOD_FILE = "policy-bundle.json"

export interface LastKnownGoodShape {
  readonly path: string
  /** None when there is no copy or it cannot be read (logged). */
  readonly read: Effect.Effect<Option.Option<string>>
  /** Replaces the copy; failures are logged and counted, and reported as `false`. */
  readonly write: (bytes: string) => Effect.Effect<boolean>
}

export class LastKnownGood extends Context.Tag("@mailconnect/LastKnownGood")<
  LastKnownGood,
  LastKnownGoodShape
>() {
  static layer = (dir: string) =>
    Layer.effect(
      this,
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const paths = yield* Path.Path
        const path = paths.join(dir, LAST_KNOWN_GOOD_FILE)
        const temporary = paths.join(dir, `.${LAST_KNOWN_GOOD_FILE}.${process.pid}.tmp`)

        const read = fs.readFileString(path).pipe(
          Effect.map(Option.some),
          Effect.catchAll((error) =>
            error._tag === "SystemError" && error.reason === "NotFound"
              ? Effect.succeed(Option.none<string>())
              : Effect.logWarning("last-known-good copy unreadable").pipe(
                  Effect.annotateLogs({ path, error: error.message }),
                  Effect.as(Option.none<string>()),
                ),
          ),
          Effect.withSpan("LastKnownGood.read"),
        )

        const write = Effect.fn("LastKnownGood.write")(function* (bytes: string) {
          return yield* Effect.gen(function* () {
            yield* fs.makeDirectory(dir, { recursive: true })
            yield* Effect.scoped(
              Effect.gen(function* () {
                const file = yield* fs.open(temporary, { flag: "w", mode: 0o644 })
                yield* file.writeAll(new TextEncoder().encode(bytes))
                yield* file.sync
              }),
            )
            yield* fs.rename(temporary, path)
            return true
          }).pipe(
            Effect.catchAll((error) =>
              Effect.logError("cannot write last-known-good copy; running bundle unaffected").pipe(
                Effect.annotateLogs({ path, error: error.message }),
                Effect.zipRight(Metric.increment(lastKnownGoodWriteFailures)),
                Effect.zipRight(fs.remove(temporary).pipe(Effect.ignore)),
                Effect.as(false),
              ),
            ),
          )
        })

        return { path, read, write }
      }),
    )
}
