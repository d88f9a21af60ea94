/** Failures of the dashboard itself; Redis and bundle failures keep their packages' tagged errors. */
import { Data } from "effect"

/** The `current` pointer does not exist yet: nothing was ever published under this prefix. */
export class BundleNotPublished extends Data.TaggedError("BundleNotPublished")<{}> {}

/** The bundle the pointer names did not pass the checks a relay applies; `reason` is the check's tag. */
export class BundleUnverified extends Data.TaggedError("BundleUnverified")<{
  readonly digest: string
  readonly reason: string
  readonly detail: string
}> {}

/** The HTTP port could not be bound (in use, not permitted, unknown address). */
export class ServerListenFailed extends Data.TaggedError("ServerListenFailed")<{
  readonly host: string
  readonly port: number
  readonly detail: string
}> {}
