/**
 * The operator's policy repository for the loop test, as real git: a bare "origin", the
 * operator's clone (branches, commits, pushes, merges) and one fresh clone per CI job — the
 * runner's checkout. The repository holds `policies/` and a package.json whose `mailconnect`
 * script runs this checkout's CLI (the repository adopting mailconnect), so the workflows'
 * `pnpm mailconnect …` lines run unchanged.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

const AUTHOR = ["-c", "user.name=Policy Author", "-c", "user.email=author@acme.example"]

export const git = (cwd: string, ...args: Array<string>): string =>
  execFileSync("git", [...AUTHOR, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] }).toString()

export interface PolicyRepo {
  readonly dir: string
  readonly origin: string
  /** The operator's clone. */
  readonly work: string
  readonly write: (path: string, text: string) => void
  readonly edit: (path: string, from: string, to: string) => void
  /** A branch off main with the given files changed, committed and pushed. */
  readonly propose: (branch: string, message: string, change: () => void) => string
  /** Merges the branch into main (a merge commit, as a pull request's merge button), pushes; before/after SHAs. */
  readonly merge: (branch: string) => { readonly before: string; readonly after: string }
  /** A fresh clone for one CI job, checked out at `ref` (a SHA or origin/<branch>). */
  readonly checkout: (ref: string) => string
  /** A fresh clone at the merge of `branch` into main: GitHub's `refs/pull/N/merge`. */
  readonly checkoutMerge: (branch: string) => string
  /** `git diff --name-only a b` in the operator's clone. */
  readonly changedBetween: (a: string, b: string) => ReadonlyArray<string>
  readonly remove: () => void
}

export const createPolicyRepo = (files: Readonly<Record<string, string>>): PolicyRepo => {
  const dir = mkdtempSync(join(tmpdir(), "mc-gitops-"))
  const origin = join(dir, "origin.git")
  const work = join(dir, "work")
  git(dir, "init", "-q", "--bare", "-b", "main", origin)
  git(dir, "clone", "-q", origin, work)
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(work, path)), { recursive: true })
    writeFileSync(join(work, path), text)
  }
  write(
    "package.json",
    `${JSON.stringify(
      {
        name: "acme-policies",
        private: true,
        scripts: { mailconnect: `node ${join(ROOT, "tools", "launch", "run.mjs")} cli` },
      },
      null,
      2,
    )}\n`,
  )
  write(".gitignore", "node_modules/\n")
  for (const [path, text] of Object.entries(files)) write(path, text)
  git(work, "checkout", "-q", "-b", "main")
  git(work, "add", "-A")
  git(work, "commit", "-q", "-m", "Policies as of the agreement register")
  git(work, "push", "-q", "origin", "main")
  let clones = 0
  return {
    dir,
    origin,
    work,
    write,
    edit: (path, from, to) => {
      const text = readFileSync(join(work, path), "utf8")
      if (!text.includes(from)) throw new Error(`${path} has no ${from}`)
      writeFileSync(join(work, path), text.replace(from, to))
    },
    propose: (branch, message, change) => {
      git(work, "checkout", "-q", "main")
      git(work, "checkout", "-q", "-b", branch)
      change()
      git(work, "add", "-A")
      git(work, "commit", "-q", "-m", message)
      git(work, "push", "-q", "origin", branch)
      const sha = git(work, "rev-parse", "HEAD").trim()
      git(work, "checkout", "-q", "main")
      return sha
    },
    merge: (branch) => {
      git(work, "checkout", "-q", "main")
      const before = git(work, "rev-parse", "HEAD").trim()
      git(work, "merge", "-q", "--no-ff", "-m", `Merge branch '${branch}'`, branch)
      git(work, "push", "-q", "origin", "main")
      return { before, after: git(work, "rev-parse", "HEAD").trim() }
    },
    checkout: (ref) => {
      const clone = join(dir, `job-${++clones}`)
      git(dir, "clone", "-q", origin, clone)
      git(clone, "checkout", "-q", "--detach", ref)
      return clone
    },
    checkoutMerge: (branch) => {
      const clone = join(dir, `job-${++clones}`)
      git(dir, "clone", "-q", origin, clone)
      git(clone, "checkout", "-q", "--detach", "origin/main")
      git(clone, "merge", "-q", "--no-ff", "-m", `Merge ${branch} into main`, `origin/${branch}`)
      return clone
    },
    changedBetween: (a, b) =>
      git(work, "diff", "--name-only", a, b)
        .split("\n")
        .filter((l) => l !== ""),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** A date `days` from now (negative: in the past), as the policy files write it. */
export const day = (days: number): string =>
  new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10)
