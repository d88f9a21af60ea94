/**
 * How far V8 lets the relay's heap grow before it collects (`RELAY_HEAP_GROWING_PERCENT`, default
 * 50; `off`: V8's own choice, which lets a busy relay's heap reach about four times its live
 * objects). A relay holds ~50 MiB of live objects under load; with V8's choice its heap grew to
 * ~200 MiB and its RSS past 300 MiB, with 50 % the RSS stays near 200 MiB for CPU within the
 * bench's noise (docs/scaling.md "Memory of a relay"). Set at start, before the relay's work
 * begins: the flag is read at each collection, so setting it in the process needs no node flag
 * (and works the same under `npm start`, systemd or a container).
 */
import { setFlagsFromString } from "node:v8"
import { Config, ConfigError, Effect, Either, Layer } from "effect"

/** A percent V8 accepts, or undefined for V8's own growth. */
export const heapGrowingPercent = Config.string("RELAY_HEAP_GROWING_PERCENT").pipe(
  Config.withDefault("50"),
  Config.mapOrFail((text) => {
    const trimmed = text.trim()
    if (trimmed === "off") return Either.right(undefined)
    const percent = Number(trimmed)
    return /^\d+$/.test(trimmed) && percent >= 10 && percent <= 400
      ? Either.right(percent)
      : Either.left(
          ConfigError.InvalidData(
            ["RELAY_HEAP_GROWING_PERCENT"],
            `expected a whole percent from 10 to 400, or off, got ${text}`,
          ),
        )
  }),
)

export const HeapLayer = Layer.effectDiscard(
  Effect.flatMap(heapGrowingPercent, (percent) =>
    percent === undefined
      ? Effect.logInfo("heap growth: V8's own")
      : Effect.sync(() => setFlagsFromString(`--heap-growing-percent=${percent}`)).pipe(
          Effect.zipRight(Effect.logInfo("heap growth limited").pipe(Effect.annotateLogs({ percent }))),
        ),
  ),
)
