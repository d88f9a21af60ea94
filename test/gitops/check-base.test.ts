/**
 * `policy check --strict --base REF`: warnings fail only in the files the change touches — a
 * changed, an added (untracked) or an edited-but-uncommitted file — and are printed, not failing,
 * elsewhere; a base that is no revision is an error, never "nothing changed".
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mailconnect } from "./support/cli"
import { day, git, ROOT } from "./support/policy-repo"

let repo: string
const policies = () => join(repo, "policies")
const check = (...args: Array<string>) =>
  mailconnect(["policy", "check", "--dir", policies(), "--strict", ...args], {}, repo)

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), "mc-check-base-"))
  cpSync(join(ROOT, "policies"), policies(), { recursive: true })
  // insurer's yearly review lapsed on main.
  const insurer = join(policies(), "partners", "insurer.yaml")
  writeFileSync(
    insurer,
    readFileSync(insurer, "utf8").replace(/attestedOn: "[^"]+"/, `attestedOn: "${day(-400)}"`),
  )
  git(repo, "init", "-q", "-b", "main")
  git(repo, "add", "-A")
  git(repo, "commit", "-q", "-m", "policies")
})

afterAll(() => rmSync(repo, { recursive: true, force: true }))

describe("policy check --strict --base", () => {
  it("prints an untouched partner's warning without failing; plain --strict still fails", async () => {
    const [scoped, strict] = await Promise.all([check("--base", "HEAD"), check()])
    expect(scoped.code, scoped.stderr).toBe(0)
    expect(scoped.stdout).toMatch(/partners\/insurer\.yaml:\d+:\d+: warning REVIEW-OVERDUE/)
    expect(scoped.stdout).toContain(
      "1 warning in files this change does not touch (against HEAD): reported, not failing",
    )
    expect(strict.code).toBe(1)
  }, 60_000)

  it("fails on the warning once the change touches that file, committed or not", async () => {
    const insurer = join(policies(), "partners", "insurer.yaml")
    const original = readFileSync(insurer, "utf8")
    writeFileSync(insurer, `${original}# a comment is a change too\n`)
    const uncommitted = await check("--base", "HEAD")
    expect(uncommitted.code).toBe(1)
    expect(uncommitted.stdout).toMatch(/partners\/insurer\.yaml:\d+:\d+: error REVIEW-OVERDUE/)
    git(repo, "commit", "-q", "-am", "touch insurer")
    const committed = await check("--base", "HEAD~1")
    expect(committed.code).toBe(1)
    git(repo, "revert", "--no-edit", "HEAD")
  }, 60_000)

  it("counts a new, untracked partner file as changed", async () => {
    const lapsed = readFileSync(join(policies(), "partners", "insurer.yaml"), "utf8")
      .replace("name: insurer", "name: insurer-two")
      .replaceAll("insurer.example", "insurer-two.example")
    writeFileSync(join(policies(), "partners", "insurer-two.yaml"), lapsed)
    const run = await check("--base", "HEAD")
    rmSync(join(policies(), "partners", "insurer-two.yaml"))
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/partners\/insurer-two\.yaml:\d+:\d+: error REVIEW-OVERDUE/)
    expect(run.stdout).toContain("policies: 1 error, 1 warning")
    expect(run.stdout).toMatch(/partners\/insurer\.yaml:\d+:\d+: warning REVIEW-OVERDUE/)
  }, 60_000)

  it("refuses a base that is no revision", async () => {
    const run = await check("--base", "no-such-branch")
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("--base no-such-branch: not a git revision")
  }, 60_000)
})
