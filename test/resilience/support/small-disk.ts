/**
 * A directory whose file system is full: a 64 KiB tmpfs (we run as root in CI and here), filled
 * to the last block. Where mounting is not permitted the directory is instead a path below a
 * regular file (ENOTDIR on every write) — unwritable rather than full; `kind` says which.
 */
import { execFileSync } from "node:child_process"
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface FullDisk {
  readonly dir: string
  readonly kind: "tmpfs-full" | "not-a-directory"
  /** Frees the space (or makes the path a directory), so writes succeed again. */
  readonly free: () => void
  readonly remove: () => void
}

export const fullDisk = (): FullDisk => {
  const base = mkdtempSync(join(tmpdir(), "mc-fulldisk-"))
  const dir = join(base, "state")
  mkdirSync(dir)
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", dir], { stdio: "pipe" })
  } catch {
    rmSync(dir, { recursive: true })
    writeFileSync(join(base, "blocker"), "")
    return {
      dir: join(base, "blocker", "state"),
      kind: "not-a-directory",
      free: () => {
        rmSync(join(base, "blocker"))
        mkdirSync(join(base, "blocker", "state"), { recursive: true })
      },
      remove: () => rmSync(base, { recursive: true, force: true }),
    }
  }
  const filler = join(dir, "filler")
  const fd = openSync(filler, "w")
  const block = Buffer.alloc(4096, 0x78)
  try {
    // Bounded: 64 KiB of blocks, then ENOSPC.
    for (let i = 0; i < 64; i++) writeSync(fd, block)
  } catch {
    // ENOSPC: full, as intended.
  }
  closeSync(fd)
  return {
    dir,
    kind: "tmpfs-full",
    free: () => rmSync(filler, { force: true }),
    remove: () => {
      execFileSync("umount", ["-l", dir], { stdio: "pipe" })
      rmSync(base, { recursive: true, force: true })
    },
  }
}
