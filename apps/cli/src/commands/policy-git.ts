/**
 * The git facts the policy commands need — the source commit of a policy directory and the
 * contents of a policy directory at another revision — by running the `git` binary.
 */
import { execFile } from "node:child_process"
import { Data, Effect } from "effect"

export class GitFailed extends Data.TaggedError("GitFailed")<{
  readonly args: ReadonlyArray<string>
  readonly reason: string
}> {}

export const run = (command: string, args: ReadonlyArray<string>, cwd: string) =>
  Effect.async<string, GitFailed>((resume) => {
    const child = execFile(
      command,
      [...args],
      { cwd, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          resume(
            Effect.fail(
              new GitFailed({ args: [command, ...args], reason: (stderr || error.message).trim() }),
            ),
          )
        else resume(Effect.succeed(stdout))
      },
    )
    return Effect.sync(() => child.kill())
  })

export const git = (args: ReadonlyArray<string>, cwd: string) => run("git", args, cwd)

/**
 * `git rev-parse HEAD` of the repository holding `dir`, with `-dirty` when the policy directory
 * has uncommitted changes (the bundle then does not match that commit); `unknown` outside git.
 */
export const sourceCommit = (dir: string) =>
  Effect.gen(function* () {
    const head = (yield* git(["rev-parse", "HEAD"], dir)).trim()
    const status = yield* git(["status", "--porcelain", "--", "."], dir)
    return status.trim() === "" ? head : `${head}-dirty`
  }).pipe(Effect.orElseSucceed(() => "unknown"))

/** True when git tracks `file` (a signing key must never be one of them). */
export const isTrackedByGit = (file: string, cwd: string) =>
  git(["ls-files", "--error-unmatch", "--", file], cwd).pipe(
    Effect.as(true),
    Effect.orElseSucceed(() => false),
  )

/**
 * Writes the policy directory as of `ref` into `target`: the tree `ref:<path of dir in repo>`
 * through `git archive`, unpacked with tar.
 */
export const materializeRef = (ref: string, dir: string, target: string) =>
  Effect.gen(function* () {
    const prefix = (yield* git(["rev-parse", "--show-prefix"], dir)).trim().replace(/\/$/, "")
    const toplevel = (yield* git(["rev-parse", "--show-toplevel"], dir)).trim()
    const tarFile = `${target}.tar`
    // From the top level: in a subdirectory git archive would look for that subdirectory in the tree.
    yield* git(["archive", "--format=tar", "-o", tarFile, `${ref}:${prefix}`], toplevel)
    yield* run("tar", ["-xf", tarFile, "-C", target], dir)
  })

/**
 * The files of the policy directory `dir` that differ from revision `ref` (changed, added, deleted
 * or untracked), relative to `dir` — what a pull request touches, with `ref` its base.
 */
export const changedFiles = (ref: string, dir: string) =>
  Effect.gen(function* () {
    const changed = yield* git(["diff", "--name-only", "--relative", "--no-renames", ref, "--", "."], dir)
    const untracked = yield* git(["ls-files", "--others", "--exclude-standard", "--", "."], dir)
    return new Set(
      `${changed}\n${untracked}`
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== ""),
    )
  })
