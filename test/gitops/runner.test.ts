/**
 * The local runner reads the workflow files strictly: expressions it does not know throw (a
 * workflow edit that needs more fails here, never runs half-understood), `if:` follows GitHub's
 * implicit `success() &&`, `$GITHUB_OUTPUT` heredocs are read as GitHub reads them, and
 * `rules: if:` compares variables as GitLab does (an undefined variable is null). And probe
 * --changed picks the domains to probe as documented.
 */
import { partner } from "@mailconnect/test-support"
import { describe, expect, it } from "vitest"
import { probeTargets } from "../../apps/cli/src/commands/probe-changed"
import {
  evaluateGithub,
  evaluateGitlab,
  githubCondition,
  globMatches,
  interpolateGithub,
} from "./support/expressions"
import { parseCommandFile } from "./support/github-runner"

/** `${{ e }}` as the workflow files write it. */
const gh = (expression: string) => `\${{ ${expression} }}`

const context = { vars: { POLICY_PROBE: "true", EMPTY: "" }, steps: { check: { outputs: { status: "1" } } } }

describe("the local workflow runner", () => {
  it("evaluates the expressions the workflows use, and refuses others", () => {
    expect(interpolateGithub(gh("vars.REDIS_PREFIX || 'mc'"), context, { success: true })).toBe("mc")
    expect(interpolateGithub(gh("steps.probe.outputs.status || '0'"), context, { success: true })).toBe("0")
    expect(evaluateGithub("steps.check.outputs.status", context, { success: true })).toBe("1")
    expect(() => evaluateGithub("contains(github.ref, 'main')", context, { success: true })).toThrow(
      "not supported by the local runner",
    )
  })

  it("applies GitHub's implicit success() to a step condition", () => {
    expect(githubCondition("vars.POLICY_PROBE == 'true'", context, { success: true })).toBe(true)
    expect(githubCondition("vars.POLICY_PROBE == 'true'", context, { success: false })).toBe(false)
    expect(githubCondition(gh("always()"), context, { success: false })).toBe(true)
    expect(githubCondition(undefined, context, { success: false })).toBe(false)
    expect(githubCondition("vars.EMPTY == 'true'", context, { success: true })).toBe(false)
  })

  it("reads $GITHUB_OUTPUT lines and heredocs", () => {
    expect(parseCommandFile("serial=17\nbody<<EOF\nline 1\nline=2\nEOF\n")).toEqual({
      serial: "17",
      body: "line 1\nline=2",
    })
    expect(() => parseCommandFile("body<<EOF\nno end\n")).toThrow("unterminated")
  })

  it("evaluates GitLab rules like GitLab", () => {
    const variables = { CI_PIPELINE_SOURCE: "push", CI_COMMIT_BRANCH: "main", CI_DEFAULT_BRANCH: "main" }
    expect(evaluateGitlab('$CI_PIPELINE_SOURCE == "merge_request_event"', variables)).toBe(false)
    expect(evaluateGitlab("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", variables)).toBe(true)
    expect(evaluateGitlab("$CI_MERGE_REQUEST_IID == null", variables)).toBe(true)
    expect(() => evaluateGitlab("$CI_COMMIT_BRANCH =~ /^release/", variables)).toThrow("not supported")
  })
})

describe("path filters", () => {
  it("match as GitHub's paths and GitLab's changes do", () => {
    for (const pattern of ["policies/**", "policies/**/*"]) {
      expect(globMatches(pattern, "policies/partners/bank.yaml"), pattern).toBe(true)
      expect(globMatches(pattern, "policies/defaults.yaml"), pattern).toBe(true)
      expect(globMatches(pattern, "README.md"), pattern).toBe(false)
      expect(globMatches(pattern, "docs/policies/x.md"), pattern).toBe(false)
    }
    expect(globMatches("main", "main")).toBe(true)
    expect(globMatches("release/*", "release/2026")).toBe(true)
    expect(globMatches("release/*", "release/2026/1")).toBe(false)
  })
})

describe("probe --changed targets", () => {
  it("probes a partner with route servers once, one delivered by MX per domain, never a wildcard", () => {
    const routed = partner("bank", {
      domains: ["bank.example", "bank.test", "*.bank.example"],
      servers: [{ host: "smtp-in.bank.example", port: 25 }],
    })
    expect(probeTargets(routed)).toEqual({ targets: ["bank.example"], skipped: ["*.bank.example"] })
    const byMx = partner("insurer", { domains: ["insurer.example", "insurer.test"] })
    expect(probeTargets(byMx)).toEqual({ targets: ["insurer.example", "insurer.test"], skipped: [] })
  })
})
