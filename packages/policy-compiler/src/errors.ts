import { Data } from "effect"

/** The policy directory (or a file in it) could not be read at all. */
export class PolicyDirectoryUnreadable extends Data.TaggedError("PolicyDirectoryUnreadable")<{
  readonly dir: string
  readonly reason: string
}> {}
