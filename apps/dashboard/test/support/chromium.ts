/**
 * Debian's chromium for the browser test, driven by playwright-core (which downloads nothing).
 * Looked for at /usr/bin/chromium; when it is missing and we are root with apt-get, it is
 * installed (CI runs as root on a fresh machine). Otherwise the test fails with what to do —
 * it never skips.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"

export const CHROMIUM = "/usr/bin/chromium"

/** Flags that keep a headless browser from calling home (the host has loopback only). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
]

export const ensureChromium = (): string => {
  if (existsSync(CHROMIUM)) return CHROMIUM
  const isRoot = process.getuid?.() === 0
  const hasApt = spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0
  if (!isRoot || !hasApt)
    throw new Error(
      `${CHROMIUM} not found and cannot be installed here (${isRoot ? "no apt-get" : "not root"}); ` +
        "install Debian's chromium first: sudo apt-get install -y chromium",
    )
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env })
  execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "inherit", env })
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get install chromium did not provide ${CHROMIUM}`)
  return CHROMIUM
}
