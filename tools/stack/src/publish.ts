/**
 * Compile, sign and publish the stack's policy — the same steps as `mailconnect policy compile`
 * and `policy publish`, run in-process to spare two CLI start-ups. The serial is the current Unix
 * time in seconds, so every start publishes a bundle newer than the one Redis kept from the last.
 */
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { digestOf, parseSigningKey, signBundle } from "@mailconnect/bundle"
import {
  buildPayload,
  compileDirectory,
  formatDiagnostic,
  hasErrors,
  summarizeDiagnostics,
} from "@mailconnect/policy-compiler"
import { loadTrustedKeys, PolicyStore, publishBundle } from "@mailconnect/policy-store"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { Data, Effect, Either, Layer } from "effect"
import type { StackPaths } from "./paths"

export class PolicyInvalid extends Data.TaggedError("PolicyInvalid")<{ readonly summary: string }> {}

const sourceCommit = (root: string): string => {
  try {
    return `${execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim()}+local-stack`
  } catch {
    return "local-stack"
  }
}

export const compileAndSign = (paths: StackPaths, now: Date, log: (line: string) => void) =>
  Effect.gen(function* () {
    const result = yield* compileDirectory(paths.policies, { now })
    for (const d of result.diagnostics) log(formatDiagnostic(d))
    if (hasErrors(result.diagnostics) || !result.policy || !result.index)
      return yield* new PolicyInvalid({ summary: summarizeDiagnostics(result.diagnostics) })
    const key = yield* parseSigningKey(readFileSync(paths.signingKey, "utf8"), paths.signingKey)
    const payload = buildPayload({
      policy: result.policy,
      index: result.index,
      serial: Math.floor(now.getTime() / 1000),
      createdAt: now,
      commit: sourceCommit(paths.root),
    })
    const bytes = signBundle(payload, [key])
    writeFileSync(paths.bundle, bytes)
    const digest = digestOf((JSON.parse(bytes) as { payload: string }).payload)
    return { bytes, serial: payload.serial, digest, partners: Object.keys(result.policy.partners).length }
  })

export const publish = (paths: StackPaths, redisUrl: string, prefix: string, bytes: string) =>
  Effect.gen(function* () {
    const config = yield* Either.match(parseRedisUrl(redisUrl, prefix), {
      onLeft: (e) => Effect.fail(e),
      onRight: Effect.succeed,
    })
    const trusted = yield* loadTrustedKeys([paths.signingPub])
    const redis = RedisClient.layer.pipe(Layer.provideMerge(RedisConnectionFactory.layerFrom(config)))
    // No relay of this stack runs yet; a fleet sharing REDIS_URL is checked by `policy publish`.
    return yield* publishBundle({ bytes, trusted, readers: [], force: false }).pipe(
      Effect.provide(PolicyStore.layer.pipe(Layer.provideMerge(redis))),
      Effect.scoped,
    )
  })
