/** Runs one SecureDns call against the given servers through the service's own layer. */
import { Effect, Either } from "effect"
import { SecureDns, type SecureDnsError, type SecureDnsOptions, type SecureDnsShape } from "../src"

export const ask = <A>(
  servers: ReadonlyArray<string>,
  call: (dns: SecureDnsShape) => Effect.Effect<A, SecureDnsError>,
  options: SecureDnsOptions = {},
): Promise<Either.Either<A, unknown>> =>
  Effect.runPromise(
    SecureDns.pipe(
      Effect.flatMap(call),
      Effect.either,
      Effect.provide(SecureDns.layer(servers, options)),
      // A layer that cannot be built (a bad server entry) fails the call the same way.
      Effect.catchAll((e) => Effect.succeed(Either.left<unknown>(e) as Either.Either<A, unknown>)),
    ),
  )

/** The answer, or the test fails with the error it got instead. */
export const answerOf = <A>(result: Either.Either<A, unknown>): A => {
  if (result._tag === "Left") throw new Error(`expected an answer, got ${JSON.stringify(result.left)}`)
  return result.right
}

/** The error, or the test fails with the answer it got instead. */
export const errorOf = <A>(result: Either.Either<A, unknown>): unknown => {
  if (result._tag === "Right") throw new Error(`expected an error, got ${JSON.stringify(result.right)}`)
  return result.left
}
