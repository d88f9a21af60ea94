/**
 * A redis-server started by a test process that dies without any clean-up (SIGKILL — as after
 * `timeout`, or a pipe closed under `| head`) is not left behind: the kernel kills it too
 * (`lifeline.ts`, setpriv --pdeathsig). Real processes; the server's pid read from Redis itself.
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const here = dirname(fileURLToPath(import.meta.url))
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readStatus(pid))
const readStatus = (pid: number) => {
  try {
    return execFileSync("cat", [`/proc/${pid}/status`], { encoding: "utf8" })
  } catch {
    return ""
  }
}

describe("lifeline", () => {
  it("a redis-server goes with the test process that started it, even when that one is SIGKILLed", async () => {
    let output = ""
    try {
      execFileSync(process.execPath, ["--import", "tsx", join(here, "support", "dies-abruptly.ts")], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      })
    } catch (e) {
      // Exits by SIGKILL, so execFileSync throws; its stdout is on the error.
      output = String((e as { stdout?: string }).stdout ?? "")
    }
    const { pid } = JSON.parse(output.trim()) as { pid: number }
    expect(pid).toBeGreaterThan(0)
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50))
    expect(alive(pid)).toBe(false)
  })
})
