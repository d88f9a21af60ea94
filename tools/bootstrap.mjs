#!/usr/bin/env node
// Makes a fresh machine with only Node 20 ready for `npm test` / `npm start`:
// pnpm 9 (corepack cannot fetch it here), the workspace's dependencies, and the
// Debian packages the tests and the local stack run for real (redis-server, openssl, the
// DNSSEC lab's unbound, knot and ldnsutils). Idempotent and quiet when everything is already
// there. No dependencies of its own.
import { execSync, spawnSync } from "node:child_process"
import { existsSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0
const run = (cmd) => {
  console.error(`bootstrap: ${cmd}`)
  execSync(cmd, { stdio: "inherit", cwd: root })
}

if (!has("pnpm")) run("npm install -g pnpm@9")

const marker = join(root, "node_modules", ".modules.yaml")
const lock = join(root, "pnpm-lock.yaml")
if (!existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs)
  run("pnpm install --frozen-lockfile")

const wanted = [
  ["redis-server", "redis-server"],
  ["openssl", "openssl"],
  // The dashboard's browser test drives Debian's chromium (no browser download).
  ["chromium", "chromium"],
  // The TLS scan of the SMTP listeners (test/resilience/fuzz/tls-scan.test.ts).
  ["sslscan", "sslscan"],
  // The DNSSEC lab (tools/test-dnssec): a validating resolver, an authoritative server, and the
  // key and signing tools for zones signed at test time. The tests start their own instances.
  ["unbound", "unbound"],
  ["knotd", "knot"],
  ["ldns-signzone", "ldnsutils"],
  // Relays with skewed clocks (test/resilience/faults/clock-skew.test.ts): libfaketime by LD_PRELOAD.
  ["faketime", "faketime"],
].filter(([cmd]) => !has(cmd))
if (wanted.length > 0) {
  const packages = wanted.map(([, pkg]) => pkg).join(" ")
  const isRoot = process.getuid?.() === 0
  if (isRoot && has("apt-get")) {
    // unbound's and knot's postinst start their system service (a resolver on port 53) where
    // they can. Nothing here wants it: for the install, a policy-rc.d (invoke-rc.d(8)) that
    // denies every start, unless the machine already has one (Debian's container images do).
    const policy = "/usr/sbin/policy-rc.d"
    const guard = !existsSync(policy)
    if (guard)
      writeFileSync(policy, "#!/bin/sh\n# written by tools/bootstrap.mjs for one install\nexit 101\n", {
        mode: 0o755,
      })
    try {
      run("apt-get update -qq")
      run(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${packages}`)
    } finally {
      if (guard) rmSync(policy, { force: true })
    }
  } else {
    console.error(
      `bootstrap: missing ${packages}. Install it first, e.g.: sudo apt-get install -y ${packages}`,
    )
    process.exit(1)
  }
}
