/**
 * Every CLI example in README.md and docs/*.md runs as written, in document order, in a scratch
 * copy of the repository with a stack started by `pnpm start` (for blocks marked
 * `# needs: stack`, which get .local/stack.env). And every `mailconnect` command and option the
 * GitHub workflows and `.gitlab-ci.yml` call exists.
 */

import { waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { shell, stackEnv } from "./cli"
import { docBlocks, workflowCommands } from "./doc-blocks"
import { processesIn, type Run, runIn } from "./processes"
import { ROOT, type Scratch, scratchCopy } from "./scratch"

let scratch: Scratch
let stack: Run

beforeAll(async () => {
  scratch = scratchCopy()
  stack = runIn(scratch.dir, "pnpm", ["start"])
  await waitFor("mailconnect ready", () => (/^mailconnect ready/m.test(stack.output()) ? true : undefined), {
    timeoutMs: 240_000,
    output: stack.output,
  })
}, 300_000)

afterAll(async () => {
  if (stack && stack.child.exitCode === null) {
    process.kill(-stack.child.pid!, "SIGINT")
    await waitFor(
      "the stack to stop",
      () => (/^mailconnect stopped$/m.test(stack.output()) ? true : undefined),
      60_000,
    )
  }
  for (const p of processesIn(scratch.dir)) process.kill(p.pid, "SIGKILL")
  scratch?.remove()
}, 90_000)

describe("CLI examples in the docs", () => {
  const blocks = docBlocks(ROOT)

  it("finds examples in README and docs, some against the stack", () => {
    expect(blocks.some((b) => b.file === "README.md")).toBe(true)
    expect(blocks.some((b) => b.file === "docs/operations.md" && b.needsStack)).toBe(true)
  })

  it.each(blocks.map((b) => [`${b.file}:${b.line}`, b] as const))(
    "%s runs as written",
    async (_, block) => {
      const result = await shell(
        scratch.dir,
        `set -euo pipefail\n${block.script}`,
        block.needsStack ? stackEnv(scratch.dir) : {},
      )
      expect(
        result.code,
        `${block.script}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
      ).toBe(0)
    },
    180_000,
  )
})

describe("CLI commands in the GitHub workflows and .gitlab-ci.yml", () => {
  const commands = workflowCommands(ROOT)
  const distinct = [...new Map(commands.map((c) => [c.words.join(" "), c])).values()]

  it("finds the commands, in both CI definitions", () => {
    const expected = [
      "fleet status",
      "policy check",
      "policy compile",
      "policy diff",
      "policy publish",
      "policy verify",
      "probe",
    ]
    for (const ci of [".github/workflows/", ".gitlab-ci.yml"])
      expect(
        commands.filter((c) => c.file.startsWith(ci)).map((c) => c.words.join(" ")),
        ci,
      ).toEqual(expect.arrayContaining(expected))
  })

  it.each(distinct.map((c) => [c.words.join(" ")] as const))(
    "mailconnect %s exists with the options used",
    async (words) => {
      const help = await shell(scratch.dir, `pnpm -s mailconnect ${words} --help`)
      expect(help.code, help.stderr).toBe(0)
      // @effect/cli prints the usage of the deepest command it recognised: it must be the last word.
      expect(help.stdout).toContain(`$ ${words.split(" ").at(-1)}`)
      const used = new Set(commands.filter((c) => c.words.join(" ") === words).flatMap((c) => c.options))
      for (const option of used) expect(help.stdout, `${words} ${option}`).toContain(option)
    },
    60_000,
  )
})
