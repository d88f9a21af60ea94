import { Data } from "effect"

/** `REDIS_URL` (or another connection string) that this client cannot use. */
export class RedisUrlInvalid extends Data.TaggedError("RedisUrlInvalid")<{
  readonly url: string
  readonly reason: string
}> {}

/** A command failed: connection down, timeout, or a Redis error reply (`reason` says which). */
export class RedisCommandError extends Data.TaggedError("RedisCommandError")<{
  readonly command: string
  readonly reason: "unavailable" | "timeout" | "reply"
  readonly detail: string
}> {}

/** A subscription could not be set up or its connection was lost for good. */
export class RedisSubscribeError extends Data.TaggedError("RedisSubscribeError")<{
  readonly channel: string
  readonly detail: string
}> {}
