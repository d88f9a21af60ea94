/**
 * A scratch copy of the working tree, as a fresh clone would look: everything except
 * `node_modules`, `.local`, `.git` and test artifacts, then a new git repository with one commit
 * (and `origin/main` pointing at it, for `policy diff --base origin/main`).
 *
 * To save minutes, dependencies are not reinstalled: the copy's root `node_modules` is a real
 * directory whose entries are symlinks to this workspace's (the per-package `node_modules`, being
 * pnpm's relative symlinks, come along with the copy and resolve through it). Its
 * `.modules.yaml` is a fresh copy, so tools/bootstrap.mjs sees installed dependencies and never
 * runs `pnpm install` into the shared store through those links.
 */
import { execFileSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

export interface Scratch {
  readonly dir: string
  readonly remove: () => void
}

const sh = (cwd: string, command: string, args: ReadonlyArray<string>) =>
  execFileSync(command, [...args], { cwd, stdio: ["ignore", "pipe", "pipe"] }).toString()

export const scratchCopy = (): Scratch => {
  const dir = mkdtempSync(join(tmpdir(), "mc-scratch-"))
  const excludes = ["./node_modules", "./.local", "./.git", "./.turbo", "./test-artifacts", "./coverage"]
  execFileSync("sh", [
    "-c",
    `tar -C "${ROOT}" ${excludes.map((e) => `--exclude='${e}'`).join(" ")} -cf - . | tar -C "${dir}" -xf -`,
  ])
  const modules = join(dir, "node_modules")
  mkdirSync(modules)
  for (const entry of readdirSync(join(ROOT, "node_modules"))) {
    if (entry === ".modules.yaml") copyFileSync(join(ROOT, "node_modules", entry), join(modules, entry))
    // Build caches (tools/launch bundles) belong to one tree; the copy builds its own.
    else if (entry === ".cache") continue
    else symlinkSync(join(ROOT, "node_modules", entry), join(modules, entry))
  }
  sh(dir, "git", ["init", "-q", "-b", "main"])
  sh(dir, "git", ["add", "-A"])
  sh(dir, "git", [
    "-c",
    "user.name=scratch",
    "-c",
    "user.email=scratch@localhost",
    "commit",
    "-qm",
    "scratch copy",
  ])
  sh(dir, "git", ["update-ref", "refs/remotes/origin/main", "HEAD"])
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
