/**
 * A local runner for the GitHub Actions workflows of this repository: reads the YAML, runs the
 * job's steps in order with the environment and secrets the workflow declares (`env:` of job and
 * step, `${{ secrets.* }}`, `${{ vars.* }}`, `${{ github.* }}`, `${{ steps.<id>.outputs.* }}`),
 * the default shell GitHub uses (`bash -e`, or `bash --noprofile --norc -eo pipefail` for
 * `shell: bash`), `$GITHUB_OUTPUT` and `$GITHUB_ENV`, and `if:` conditions — after `on:` (event,
 * branches, paths against the files the event changes) says the workflow runs at all.
 *
 * What it does not run: the actions (`uses:`). `actions/checkout` calls the caller's checkout,
 * `actions/setup-node` is a no-op (this Node runs the steps), `actions/upload-artifact` copies
 * into the artifacts directory; any other action is an error. Steps named in `skip` (the
 * toolchain install — the runner runs inside an installed checkout) are reported as skipped.
 * The `gh` CLI the workflow calls is a shim on PATH (`shims.ts`), the only fake.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { parse } from "yaml"
import { type Context, githubCondition, globMatches, interpolateGithub } from "./expressions"
import { baseEnvironment, runScript } from "./run-script"

export interface GithubStepResult {
  readonly name: string
  readonly id: string | undefined
  readonly outcome: "success" | "failure" | "skipped"
  readonly output: string
  readonly ms: number
}

export interface GithubJobResult {
  /** Whether the workflow's `on:` (event, branches, paths) starts it for this event at all. */
  readonly triggered: boolean
  readonly ok: boolean
  readonly steps: ReadonlyArray<GithubStepResult>
  /** The step output of every run step, in order, for assertions and failure messages. */
  readonly log: string
}

export interface GithubRunOptions {
  readonly workflow: string
  readonly job?: string
  readonly workspace: string
  readonly checkout: (options: Readonly<Record<string, unknown>>) => Promise<void>
  readonly event: {
    readonly name: string
    readonly ref: string
    readonly sha: string
    readonly payload: unknown
  }
  readonly secrets?: Readonly<Record<string, string>>
  readonly vars?: Readonly<Record<string, string>>
  /** Extra environment of the runner machine (PATH with the shims first, capture dirs). */
  readonly machineEnv?: Readonly<Record<string, string>>
  readonly artifacts: string
  readonly skip?: ReadonlyArray<string>
  /** Files the event's commits change, for `on.<event>.paths`. */
  readonly changed?: ReadonlyArray<string>
}

type Trigger = { readonly branches?: ReadonlyArray<string>; readonly paths?: ReadonlyArray<string> } | null

/** `on: { pull_request: { paths }, push: { branches, paths } }` for this event. */
const triggers = (on: Record<string, Trigger>, options: GithubRunOptions): boolean => {
  if (!(options.event.name in on)) return false
  const trigger = on[options.event.name]
  const branch = options.event.ref.replace(/^refs\/heads\//, "")
  if (
    trigger?.branches &&
    options.event.name === "push" &&
    !trigger.branches.some((b) => globMatches(b, branch))
  )
    return false
  if (trigger?.paths && options.changed)
    return options.changed.some((file) => trigger.paths!.some((p) => globMatches(p, file)))
  return true
}

interface Step {
  readonly name?: string
  readonly id?: string
  readonly uses?: string
  readonly run?: string
  readonly shell?: string
  readonly if?: unknown
  readonly env?: Record<string, unknown>
  readonly with?: Record<string, unknown>
}

const SHELLS: Record<string, ReadonlyArray<string>> = {
  default: ["bash", "-e"],
  bash: ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
  sh: ["sh", "-e"],
}

/** `name=value` lines and `name<<DELIM … DELIM` blocks, as GitHub reads these files. */
export const parseCommandFile = (text: string): Record<string, string> => {
  const values: Record<string, string> = {}
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1)
      if (end < 0) throw new Error(`unterminated ${heredoc[1]}<<${heredoc[2]}`)
      values[heredoc[1]!] = lines.slice(i + 1, end).join("\n")
      i = end
    } else if (line.includes("="))
      values[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1)
  }
  return values
}

const stringify = (env: Record<string, unknown> | undefined, context: Context, success: boolean) =>
  Object.fromEntries(
    Object.entries(env ?? {}).map(([k, v]) => [k, interpolateGithub(String(v ?? ""), context, { success })]),
  )

export const runGithubJob = async (options: GithubRunOptions): Promise<GithubJobResult> => {
  const workflow = parse(readFileSync(options.workflow, "utf8")) as {
    on: Record<string, Trigger>
    jobs: Record<string, { env?: Record<string, unknown>; steps: ReadonlyArray<Step> }>
    defaults?: { run?: { shell?: string } }
  }
  if (!triggers(workflow.on, options))
    return { triggered: false, ok: true, steps: [], log: "[runner] not triggered\n" }
  const jobs = Object.keys(workflow.jobs)
  const jobName = options.job ?? (jobs.length === 1 ? jobs[0]! : undefined)
  if (!jobName || !workflow.jobs[jobName])
    throw new Error(`${options.workflow}: which job? (${jobs.join(", ")})`)
  const job = workflow.jobs[jobName]!
  const temp = mkdtempSync(join(tmpdir(), "mc-gha-"))
  const steps: Record<string, { outputs: Record<string, string>; outcome: string }> = {}
  const github = {
    token: "ghs_local-runner-token",
    workspace: options.workspace,
    event_name: options.event.name,
    ref: options.event.ref,
    sha: options.event.sha,
    event: options.event.payload,
    repository: "acme/policies",
  }
  const context = (env: Record<string, string>): Context => ({
    github,
    secrets: options.secrets ?? {},
    vars: options.vars ?? {},
    steps,
    env,
    runner: { temp },
  })
  let success = true
  const jobEnv = stringify(job.env, context({}), true)
  const results: Array<GithubStepResult> = []
  let log = ""
  for (const [index, step] of job.steps.entries()) {
    const name = step.name ?? step.uses ?? `step ${index + 1}`
    const started = Date.now()
    const record = (outcome: GithubStepResult["outcome"], output: string) => {
      results.push({ name, id: step.id, outcome, output, ms: Date.now() - started })
      if (step.id) steps[step.id] = { outputs: steps[step.id]?.outputs ?? {}, outcome }
      log += `\n=== ${name} (${outcome}, ${Date.now() - started} ms)\n${output}`
    }
    if (!githubCondition(step.if, context(jobEnv), { success })) {
      record("skipped", "")
      continue
    }
    if (options.skip?.includes(name)) {
      record("skipped", "[runner] skipped: the runner runs inside an installed checkout\n")
      continue
    }
    if (step.uses) {
      const action = step.uses.replace(/@.*$/, "")
      const withs = stringify(step.with, context(jobEnv), success)
      if (action === "actions/checkout") await options.checkout(withs)
      else if (action === "actions/upload-artifact") {
        const target = join(options.artifacts, withs.name ?? "artifact")
        mkdirSync(target, { recursive: true })
        const source = join(options.workspace, withs.path ?? "")
        cpSync(source, join(target, basename(source)), { recursive: true })
      } else if (action !== "actions/setup-node") throw new Error(`action ${step.uses} is not run locally`)
      record("success", `[runner] ${action}\n`)
      continue
    }
    const outputFile = join(temp, `output-${index}`)
    const envFile = join(temp, `env-${index}`)
    writeFileSync(outputFile, "")
    writeFileSync(envFile, "")
    const stepEnv = stringify(step.env, context(jobEnv), success)
    const script = interpolateGithub(step.run ?? "", context({ ...jobEnv, ...stepEnv }), { success })
    const shell = SHELLS[step.shell ?? workflow.defaults?.run?.shell ?? "default"]
    if (!shell) throw new Error(`shell ${step.shell} is not run locally`)
    const result = await runScript({
      dir: options.workspace,
      scriptDir: temp,
      name: `${index}-${name}`,
      shell,
      script,
      env: {
        ...baseEnvironment(),
        ...options.machineEnv,
        CI: "true",
        GITHUB_ACTIONS: "true",
        GITHUB_WORKSPACE: options.workspace,
        GITHUB_EVENT_NAME: options.event.name,
        GITHUB_REF: options.event.ref,
        GITHUB_SHA: options.event.sha,
        GITHUB_OUTPUT: outputFile,
        GITHUB_ENV: envFile,
        RUNNER_TEMP: temp,
        ...jobEnv,
        ...stepEnv,
      },
    })
    if (step.id) steps[step.id] = { outputs: parseCommandFile(readFileSync(outputFile, "utf8")), outcome: "" }
    Object.assign(jobEnv, parseCommandFile(readFileSync(envFile, "utf8")))
    if (result.code !== 0) success = false
    record(result.code === 0 ? "success" : "failure", result.output)
  }
  return { triggered: true, ok: success, steps: results, log }
}
