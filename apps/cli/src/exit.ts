/**
 * How a command ends with a specific exit status. Scripts rely on these statuses
 * (e.g. `policy check` exits 1 on errors), so commands fail with `CliExit` instead of
 * calling `process.exit` themselves; `main.ts` turns it into the process status after
 * every finalizer has run.
 */
import { Data } from "effect"

export class CliExit extends Data.TaggedError("CliExit")<{
  readonly code: number
  /** Printed to stderr when present. */
  readonly message?: string
}> {}
