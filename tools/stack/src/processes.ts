/**
 * Child processes of the stack (redis-server, relay, dashboard) as scoped resources. Each runs
 * in its own process group (`detached`), so a Ctrl-C in the terminal reaches only the launcher,
 * which then stops them in reverse start order — the relay drains while Redis is still up.
 * Output goes to `.local/logs/<name>.log`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Data, Duration, Effect } from "effect"
import type { StackPaths } from "./paths"
import { forgetPid, recordPid } from "./pids"

export class ProcessFailed extends Data.TaggedError("ProcessFailed")<{
  readonly name: string
  readonly reason: string
  readonly logFile: string
}> {}

export interface ProcessSpec {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  /** A piece of its command line that identifies it in /proc (leftover clean-up). */
  readonly marker: string
  /** Resolves true once the process serves; polled until the start timeout. */
  readonly ready: () => Promise<boolean>
  readonly startTimeout: Duration.DurationInput
  /** How long SIGTERM may take (a relay drains) before SIGKILL. */
  readonly stopTimeout: Duration.DurationInput
}

export interface RunningProcess {
  readonly name: string
  readonly pid: number
  readonly logFile: string
  /** Fails when the process ends on its own (not stopped by its scope): the stack is broken then. */
  readonly unexpectedExit: Effect.Effect<never, ProcessFailed>
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once("exit", () => resolve()))

const tail = (file: string) => {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-15).join("\n")
  } catch {
    return ""
  }
}

const start = (paths: StackPaths, spec: ProcessSpec) =>
  Effect.async<{ child: ChildProcess; logFile: string }, ProcessFailed>((resume) => {
    mkdirSync(paths.logs, { recursive: true })
    const logFile = join(paths.logs, `${spec.name}.log`)
    const fd = openSync(logFile, "a")
    const child = spawn(spec.command, [...spec.args], {
      cwd: paths.root,
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", fd, fd],
      detached: true,
    })
    closeSync(fd)
    child.once("error", (e) =>
      resume(Effect.fail(new ProcessFailed({ name: spec.name, reason: e.message, logFile }))),
    )
    child.once("spawn", () => resume(Effect.succeed({ child, logFile })))
  })

const stop = (paths: StackPaths, spec: ProcessSpec, child: ChildProcess) =>
  Effect.promise(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM")
      const timer = setTimeout(() => {
        // Whatever the process left in its group goes too.
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
      }, Duration.toMillis(spec.stopTimeout))
      await exited(child)
      clearTimeout(timer)
    }
    forgetPid(paths, spec.name)
  })

const awaitReady = (spec: ProcessSpec, child: ChildProcess, logFile: string) =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(spec.startTimeout)
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        return yield* new ProcessFailed({
          name: spec.name,
          reason: `exited (${child.exitCode ?? child.signalCode}) during start:\n${tail(logFile)}`,
          logFile,
        })
      if (yield* Effect.promise(spec.ready)) return
      if (Date.now() > deadline)
        return yield* new ProcessFailed({
          name: spec.name,
          reason: `not ready after ${Duration.format(spec.startTimeout)}:\n${tail(logFile)}`,
          logFile,
        })
      yield* Effect.sleep("200 millis")
    }
  })

/** Starts the process, waits until it is ready, and stops it when the scope closes. */
export const supervised = (paths: StackPaths, spec: ProcessSpec) =>
  Effect.gen(function* () {
    const { child, logFile } = yield* Effect.acquireRelease(start(paths, spec), ({ child }) =>
      stop(paths, spec, child),
    )
    recordPid(paths, { name: spec.name, pid: child.pid!, marker: spec.marker })
    yield* awaitReady(spec, child, logFile)
    const unexpectedExit = Effect.promise(() => exited(child)).pipe(
      Effect.flatMap(() =>
        Effect.fail(
          new ProcessFailed({
            name: spec.name,
            reason: `exited unexpectedly (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}`,
            logFile,
          }),
        ),
      ),
    )
    return { name: spec.name, pid: child.pid!, logFile, unexpectedExit } satisfies RunningProcess
  })

/** True when an HTTP GET gets any answer (a dashboard asking for credentials is up). */
export const answersHttp = (url: string, expectStatus?: number) => async (): Promise<boolean> => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) })
    await response.body?.cancel()
    return expectStatus === undefined || response.status === expectStatus
  } catch {
    return false
  }
}
