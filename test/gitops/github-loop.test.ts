/**
 * The GitOps loop on the GitHub definitions, end to end: `.github/workflows/policy-pr.yml` and
 * `policy-publish.yml` run step by step by the local runner against a real git origin, a real
 * Redis and two relay processes. A pull request onboarding the enforce partner `fresh` gets a
 * comment that opens with the verdict and carries the plan, the check and the probe of `fresh`'s
 * gateway; the merge publishes a signed bundle, both relays converge on its serial, and the
 * message that waited for `fresh` is delivered. A pull request downgrading `bank` is flagged
 * security-relevant in its comment and fails the strict check (bank's review lapsed).
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type GithubJobResult, runGithubJob } from "./support/github-runner"
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

const PR_WORKFLOW = join(ROOT, ".github", "workflows", "policy-pr.yml")
const PUBLISH_WORKFLOW = join(ROOT, ".github", "workflows", "policy-publish.yml")

let world: LoopWorld

beforeAll(async () => {
  world = await startLoopWorld()
}, 120_000)

afterAll(async () => {
  await world?.stop()
}, 60_000)

const pullRequest = (
  branch: string,
  number: number,
  vars: Record<string, string> = { POLICY_PROBE: "true" },
) => {
  const workspace = world.repo.checkoutMerge(branch)
  return runGithubJob({
    workflow: PR_WORKFLOW,
    workspace,
    checkout: async () => undefined, // the merge ref is what actions/checkout gives a pull_request run
    event: {
      name: "pull_request",
      ref: `refs/pull/${number}/merge`,
      sha: git(workspace, "rev-parse", "HEAD").trim(),
      payload: { pull_request: { number } },
    },
    vars,
    changed: world.repo.changedBetween("main", branch),
    machineEnv: world.machineEnv,
    artifacts: join(world.repo.dir, "artifacts"),
    skip: ["Install"],
  })
}

/** The push to main that `changed` these files. */
const publish = (sha: string, changed: ReadonlyArray<string>) => {
  const workspace = world.repo.checkout(sha)
  const lab = world.stack.lab
  return runGithubJob({
    workflow: PUBLISH_WORKFLOW,
    workspace,
    checkout: async () => undefined,
    event: { name: "push", ref: "refs/heads/main", sha, payload: {} },
    changed,
    secrets: { MAILCONNECT_SIGNING_KEY: lab.signer.privatePem, REDIS_URL: lab.redis.url },
    vars: { MAILCONNECT_TRUSTED_KEYS_PEM: lab.signer.publicPem, REDIS_PREFIX: lab.prefix },
    machineEnv: world.machineEnv,
    artifacts: join(world.repo.dir, "artifacts"),
    skip: ["Install"],
  })
}

const step = (run: GithubJobResult, name: string) => {
  const found = run.steps.find((s) => s.name.startsWith(name))
  if (!found) throw new Error(`no step ${name}`)
  return found
}

describe("the GitOps loop on GitHub Actions", () => {
  it("onboards a partner: PR checks and comment, merge, signed publish, fleet converged, waiting mail delivered", async () => {
    // The policy of main, published the way every later change is.
    const initial = await publish(git(world.repo.work, "rev-parse", "main").trim(), [
      "policies/defaults.yaml",
    ])
    expect(initial.ok, initial.log).toBe(true)

    await deferredForFresh(world, "waiting for the agreement")
    onboardFresh(world)
    const pr = await pullRequest("onboard-fresh", 1)
    expect(pr.ok, pr.log).toBe(true)
    expect(step(pr, "Install").outcome).toBe("skipped")
    const [comment, ...more] = world.shims.comments("pr-1")
    expect(more).toEqual([])
    expect(comment!.split("\n")[0]).toBe(
      "**Verdict: 1 partner changed (fresh new), no security-relevant change.**",
    )
    expect(comment).toContain("#### + partner `fresh` (create)")
    // bank's lapsed review is shown, and does not fail a change that leaves bank alone.
    expect(comment).toMatch(/partners\/bank\.yaml:\d+:\d+: warning REVIEW-OVERDUE/)
    expect(comment).toContain("1 warning in files this change does not touch")
    expect(comment).toContain("policy check --strict: passed")
    expect(comment).toContain("**All 1 server of 1 partner passed.**")
    expect(comment).toMatch(/\| `fresh` \| `fresh\.example` \| `127\.0\.0\.1:\d+ \(127\.0\.0\.1\)` \| ok \|/)

    const merged = world.repo.merge("onboard-fresh")
    const published = await publish(merged.after, world.repo.changedBetween(merged.before, merged.after))
    expect(published.ok, published.log).toBe(true)
    const compiled = step(published, "Compile and sign").output
    const serial = Number(/^serial (\d+)$/m.exec(compiled)?.[1])
    expect(compiled).toContain(`source ${merged.after}`)
    expect(step(published, "Publish").output).toContain(`published serial ${serial}`)
    expect(step(published, "Wait for the fleet").outcome).toBe("success")
    expect(await activeSerials(world)).toEqual([serial, serial])
    await deliveredToFresh(world, "waiting for the agreement")
  }, 180_000)

  it("flags a downgrade in the comment and fails the strict check where the policy says so", async () => {
    downgradeBank(world)
    const pr = await pullRequest("downgrade-bank", 2)
    expect(pr.ok).toBe(false)
    // The comment is posted all the same: the reviewer sees why.
    expect(step(pr, "Post the change").outcome).toBe("success")
    expect(step(pr, "Fail on a failed check").outcome).toBe("failure")
    const [comment] = world.shims.comments("pr-2")
    expect(comment!.split("\n")[0]).toBe(
      "**Verdict: 1 partner changed (bank), 2 security-relevant changes: bank downgraded enforce → opportunistic; bank: inbound.requireTls true → false.**",
    )
    expect(comment).toContain("> - `MODE-DOWNGRADED` partner `bank`: tls.mode enforce → opportunistic")
    expect(comment).toContain("policy check --strict: FAILED")
    expect(comment).toMatch(/partners\/bank\.yaml:\d+:\d+: error REVIEW-OVERDUE/)

    // The next push runs it again: the comment is edited in place, not piled up.
    const again = await pullRequest("downgrade-bank", 2)
    expect(again.ok).toBe(false)
    expect(world.shims.comments("pr-2")).toEqual([comment])
    // Nothing was probed: a downgraded partner is not one the probe can vouch for, but it is still changed.
    expect(comment).toContain("Probe of the changed partners")
  }, 120_000)

  it("cuts a plan longer than a comment can hold at a line, and says where the whole plan is", async () => {
    importRegister(world, 80)
    const pr = await pullRequest("import-register", 3, {})
    expect(pr.ok, pr.log).toBe(true)
    const [comment] = world.shims.comments("pr-3")
    expect(comment!.split("\n")[0]).toBe(
      "**Verdict: 80 partners changed (registered-1 new, registered-10 new, registered-11 new, registered-12 new, registered-13 new and 75 more), no security-relevant change.**",
    )
    expect([...comment!].length).toBeLessThanOrEqual(65_536)
    expect(comment).toContain("the whole plan is in the log of this job")
    // The log has it all, down to the last partner.
    expect(step(pr, "Post the change").output).toContain("#### + partner `registered-80` (create)")
  }, 120_000)

  it("runs for a change to policies/ only: a README-only pull request starts no workflow", async () => {
    world.repo.propose("readme", "docs only", () => world.repo.write("README.md", "# Acme policies\n"))
    const pr = await pullRequest("readme", 4)
    expect(pr.triggered).toBe(false)
    expect(world.shims.comments("pr-4")).toEqual([])
  }, 60_000)
})
