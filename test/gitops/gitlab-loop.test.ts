/**
 * The GitOps loop on the GitLab definition, end to end: `.gitlab-ci.yml` run by the local runner
 * (workflow rules, rules with changes, stages, variables) against a real git origin, a real Redis
 * and two relay processes, with the bundle signed by an external signer — a stand-in for Vault's
 * transit engine: the pipeline holds a URL, a token and the public key, never the private key.
 * A merge request onboarding `fresh` gets a note (verdict first, plan, check, probe); the merge
 * to the default branch publishes, both relays converge, the waiting message is delivered. A
 * downgrade of `bank` is flagged and fails the strict check.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runGitlabPipeline } from "./support/gitlab-runner"
import {
  activeSerials,
  deferredForFresh,
  deliveredToFresh,
  downgradeBank,
  importRegister,
  type LoopWorld,
  onboardFresh,
  startLoopWorld,
} from "./support/loop"
import { git, ROOT } from "./support/policy-repo"
import { startTransitSigner, type TransitSigner, VAULT_SIGN_COMMAND } from "./support/transit-signer"

const PIPELINE = join(ROOT, ".gitlab-ci.yml")

let world: LoopWorld
let transit: TransitSigner

beforeAll(async () => {
  world = await startLoopWorld()
  // The lab's signing key lives in the signer only; the relays trust its public half.
  transit = await startTransitSigner({ mailconnect: world.stack.lab.signer.privatePem })
}, 120_000)

afterAll(async () => {
  await transit?.stop()
  await world?.stop()
}, 60_000)

const project = () => ({
  GITLAB_TOKEN: "glpat-local-runner",
  REDIS_URL: world.stack.lab.redis.url,
  REDIS_PREFIX: world.stack.lab.prefix,
  MAILCONNECT_TRUSTED_KEYS_PEM: world.stack.lab.signer.publicPem,
  MAILCONNECT_SIGN_COMMAND: VAULT_SIGN_COMMAND,
  MAILCONNECT_SIGN_PUBKEY_PEM: world.stack.lab.signer.publicPem,
  VAULT_ADDR: transit.url,
  // What the job's `vault write auth/jwt/login` would have returned.
  VAULT_TOKEN: transit.token,
  POLICY_PROBE: "true",
})

const mergeRequest = (branch: string, iid: number, extra: Record<string, string> = {}) => {
  const workspace = world.repo.checkout(`origin/${branch}`)
  return runGitlabPipeline({
    file: PIPELINE,
    workspace,
    predefined: {
      CI_PIPELINE_SOURCE: "merge_request_event",
      CI_DEFAULT_BRANCH: "main",
      CI_MERGE_REQUEST_IID: String(iid),
      CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: branch,
      CI_MERGE_REQUEST_TARGET_BRANCH_NAME: "main",
      CI_COMMIT_SHA: git(workspace, "rev-parse", "HEAD").trim(),
      CI_BUILDS_DIR: world.repo.dir,
    },
    variables: { ...project(), ...extra },
    changed: world.repo.changedBetween("main", branch),
    machineEnv: world.machineEnv,
  })
}

const defaultBranch = (before: string | undefined, after: string) => {
  const workspace = world.repo.checkout(after)
  return {
    workspace,
    run: runGitlabPipeline({
      file: PIPELINE,
      workspace,
      predefined: {
        CI_PIPELINE_SOURCE: "push",
        CI_DEFAULT_BRANCH: "main",
        CI_COMMIT_BRANCH: "main",
        CI_COMMIT_SHA: after,
        CI_BUILDS_DIR: world.repo.dir,
      },
      variables: project(),
      // A first push changes every file; later ones what the merge brought.
      changed: before ? world.repo.changedBetween(before, after) : ["policies/defaults.yaml"],
      machineEnv: world.machineEnv,
    }),
  }
}

/** Every file under `dir` (the job's checkout), for "no private key on the runner". */
const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (entry === ".git") return []
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })

describe("the GitOps loop on GitLab CI", () => {
  it("onboards a partner: MR note, merge, publish signed by an external signer, fleet converged, mail delivered", async () => {
    const first = defaultBranch(undefined, git(world.repo.work, "rev-parse", "main").trim())
    const initial = await first.run
    expect(initial.ok, initial.log).toBe(true)
    expect(initial.jobs.map((j) => j.name)).toEqual(["policy:publish"])

    await deferredForFresh(world, "waiting on GitLab")
    onboardFresh(world)
    const mr = await mergeRequest("onboard-fresh", 7)
    expect(mr.ok, mr.log).toBe(true)
    expect(mr.jobs.map((j) => j.name)).toEqual(["policy:check"])
    const [note, ...more] = world.shims.comments("mr-7")
    expect(more).toEqual([])
    expect(note!.split("\n")[0]).toBe(
      "**Verdict: 1 partner changed (fresh new), no security-relevant change.**",
    )
    expect(note).toContain("#### + partner `fresh` (create)")
    expect(note).toMatch(/partners\/bank\.yaml:\d+:\d+: warning REVIEW-OVERDUE/)
    expect(note).toContain("**All 1 server of 1 partner passed.**")

    const merged = world.repo.merge("onboard-fresh")
    const requestsBefore = transit.requests.length
    const { workspace, run } = defaultBranch(merged.before, merged.after)
    const published = await run
    expect(published.ok, published.log).toBe(true)
    const log = published.jobs[0]!.output
    const serial = Number(/^serial (\d+)$/m.exec(log)?.[1])
    expect(log).toMatch(/^key id [0-9a-f]{16} \(external signer\)$/m)
    expect(log).toContain(`published serial ${serial}`)
    expect(transit.requests.slice(requestsBefore).map((r) => r.status)).toEqual([200])
    // The private key was never on the runner: not in its variables, not in its checkout.
    expect(Object.values(project()).some((v) => v.includes("PRIVATE KEY"))).toBe(false)
    expect(filesUnder(workspace).filter((f) => readFileSync(f, "utf8").includes("PRIVATE KEY"))).toEqual([])
    expect(await activeSerials(world)).toEqual([serial, serial])
    await deliveredToFresh(world, "waiting on GitLab")
  }, 180_000)

  it("flags a downgrade in the MR note and fails the strict check", async () => {
    downgradeBank(world)
    const mr = await mergeRequest("downgrade-bank", 8)
    expect(mr.ok).toBe(false)
    expect(mr.jobs[0]!.output).toContain("policy check --strict failed (see the note)")
    const [note] = world.shims.comments("mr-8")
    expect(note!.split("\n")[0]).toBe(
      "**Verdict: 1 partner changed (bank), 2 security-relevant changes: bank downgraded enforce → opportunistic; bank: inbound.requireTls true → false.**",
    )
    expect(note).toContain("> - `MODE-DOWNGRADED` partner `bank`: tls.mode enforce → opportunistic")
    expect(note).toMatch(/partners\/bank\.yaml:\d+:\d+: error REVIEW-OVERDUE/)
  }, 120_000)

  it("runs no pipeline for a push to another branch, and no check for an MR that leaves policies/ alone", async () => {
    const other = await runGitlabPipeline({
      file: PIPELINE,
      workspace: world.repo.work,
      predefined: { CI_PIPELINE_SOURCE: "push", CI_DEFAULT_BRANCH: "main", CI_COMMIT_BRANCH: "feature" },
      changed: ["policies/partners/bank.yaml"],
    })
    expect(other.created).toBe(false)
    world.repo.propose("readme", "docs only", () => world.repo.write("README.md", "# Acme policies\n"))
    const docsOnly = await mergeRequest("readme", 9)
    expect(docsOnly.jobs).toEqual([])
    expect(world.shims.comments("mr-9")).toEqual([])
  }, 60_000)

  it("cuts a plan longer than one note argument can hold at a line", async () => {
    importRegister(world, 80)
    const mr = await mergeRequest("import-register", 10, { POLICY_PROBE: "false" })
    expect(mr.ok, mr.log).toBe(true)
    const [note] = world.shims.comments("mr-10")
    expect(Buffer.byteLength(note!)).toBeLessThanOrEqual(101_000)
    expect(note).toContain("the whole plan is in the log of job policy:check")
    expect(mr.jobs[0]!.output).toContain("#### + partner `registered-80` (create)")
  }, 120_000)
})
