/**
 * A local runner for `.gitlab-ci.yml`: the pipeline's `workflow: rules`, then stage by stage the
 * jobs whose `rules` match (`if:` on CI/CD variables, `changes:` on the files the pipeline's
 * commits change), each job's `script` in bash with `set -eo pipefail` as GitLab's shell
 * executor runs it, with the global and job `variables:` (expanded) over the predefined `CI_*`
 * variables and the project's CI/CD variables. A failed job stops the later stages.
 *
 * Not run: `before_script` (the toolchain install — the runner runs inside an installed
 * checkout), `image`, `artifacts` (the workspace is shared by the jobs of one pipeline, which is
 * what artifacts give them on GitLab), `resource_group`, `environment`, `id_tokens`. The `glab`
 * CLI the MR-note job calls is a shim on PATH (`shims.ts`), the only fake.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parse } from "yaml"
import { evaluateGitlab, expandGitlab, globMatches } from "./expressions"
import { baseEnvironment, runScript } from "./run-script"

export interface GitlabJobResult {
  readonly name: string
  readonly stage: string
  readonly ok: boolean
  readonly output: string
}

export interface GitlabPipelineResult {
  readonly ok: boolean
  /** Whether `workflow: rules` created a pipeline at all. */
  readonly created: boolean
  readonly jobs: ReadonlyArray<GitlabJobResult>
  readonly log: string
}

export interface GitlabRunOptions {
  readonly file: string
  readonly workspace: string
  /** Predefined variables (CI_PIPELINE_SOURCE, CI_COMMIT_BRANCH, CI_MERGE_REQUEST_IID, …). */
  readonly predefined: Readonly<Record<string, string>>
  /** Project CI/CD variables (masked ones included: GitLab hands them to jobs the same way). */
  readonly variables?: Readonly<Record<string, string>>
  /** Files the pipeline's commits change, for `rules: changes`. */
  readonly changed: ReadonlyArray<string>
  readonly machineEnv?: Readonly<Record<string, string>>
}

interface Rule {
  readonly if?: string
  readonly changes?: ReadonlyArray<string> | { readonly paths: ReadonlyArray<string> }
  readonly when?: string
}

interface Job {
  readonly stage?: string
  readonly rules?: ReadonlyArray<Rule>
  readonly variables?: Record<string, unknown>
  readonly script: ReadonlyArray<string> | string
}

const RESERVED = new Set([
  "stages",
  "variables",
  "default",
  "workflow",
  "include",
  "image",
  "services",
  "before_script",
  "after_script",
  "cache",
])

const ruleMatches = (
  rule: Rule,
  variables: Readonly<Record<string, string>>,
  changed: ReadonlyArray<string>,
) => {
  if (rule.if !== undefined && !evaluateGitlab(rule.if, variables)) return false
  if (rule.changes !== undefined) {
    const patterns = Array.isArray(rule.changes)
      ? rule.changes
      : (rule.changes as { paths: Array<string> }).paths
    if (!changed.some((file) => patterns.some((p) => globMatches(p, file)))) return false
  }
  return rule.when !== "never"
}

const expandAll = (defined: Record<string, unknown> | undefined, into: Record<string, string>) => {
  for (const [name, value] of Object.entries(defined ?? {})) {
    const text =
      typeof value === "object" && value !== null ? String((value as { value: unknown }).value) : value
    into[name] = expandGitlab(String(text ?? ""), into)
  }
  return into
}

export const runGitlabPipeline = async (options: GitlabRunOptions): Promise<GitlabPipelineResult> => {
  const config = parse(readFileSync(options.file, "utf8")) as Record<string, unknown> & {
    stages?: ReadonlyArray<string>
    variables?: Record<string, unknown>
    workflow?: { rules?: ReadonlyArray<Rule> }
  }
  const base: Record<string, string> = {
    CI: "true",
    GITLAB_CI: "true",
    CI_PROJECT_DIR: options.workspace,
    ...options.predefined,
  }
  // GitLab's precedence: project CI/CD variables over the job's, the job's over the file's.
  const project = options.variables ?? {}
  const pipelineVariables = { ...expandAll(config.variables, { ...base, ...project }), ...project }
  const workflowRules = config.workflow?.rules
  if (workflowRules && !workflowRules.some((r) => ruleMatches(r, pipelineVariables, options.changed)))
    return { ok: true, created: false, jobs: [], log: "[runner] workflow rules: no pipeline\n" }
  const jobs = Object.entries(config).filter(
    ([name]) => !RESERVED.has(name) && !name.startsWith("."),
  ) as Array<[string, Job]>
  const stages = config.stages ?? ["build", "test", "deploy"]
  const temp = mkdtempSync(join(tmpdir(), "mc-glci-"))
  const results: Array<GitlabJobResult> = []
  let log = ""
  for (const stage of stages) {
    for (const [name, job] of jobs.filter(([, j]) => (j.stage ?? "test") === stage)) {
      if (job.rules && !job.rules.some((r) => ruleMatches(r, pipelineVariables, options.changed))) continue
      const variables = {
        ...expandAll(job.variables, { ...pipelineVariables, CI_JOB_NAME: name, CI_JOB_STAGE: stage }),
        ...project,
      }
      const lines = typeof job.script === "string" ? [job.script] : job.script
      const result = await runScript({
        dir: options.workspace,
        scriptDir: temp,
        name,
        shell: ["bash", "--noprofile", "--norc"],
        script: `set -eo pipefail\n${lines.join("\n")}\n`,
        env: { ...baseEnvironment(), ...options.machineEnv, ...variables },
      })
      results.push({ name, stage, ok: result.code === 0, output: result.output })
      log += `\n=== ${name} (${result.code === 0 ? "passed" : "failed"})\n${result.output}`
    }
    if (results.some((r) => !r.ok)) break
  }
  return { ok: results.every((r) => r.ok), created: true, jobs: results, log }
}
