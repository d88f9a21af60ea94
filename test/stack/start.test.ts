/**
 * The README's first command, as a newcomer runs it: `npm start` in a fresh copy of the
 * repository (see scratch.ts for how dependencies are shared). Mail submitted over STARTTLS + AUTH
 * reaches the good demo partner over enforced TLS; mail to the broken partner waits with
 * CERT_EXPIRED; Ctrl-C (SIGINT to the terminal's process group) leaves no process behind; a
 * second start reuses keys, PKI and Redis data, so the waiting mail is still there.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { waitFor } from "@mailconnect/test-support"
import nodemailer from "nodemailer"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { jsonOf, shell, stackEnv } from "./cli"
import { isAlive, processesIn, type Run, runIn } from "./processes"
import { type Scratch, scratchCopy } from "./scratch"

interface StackJson {
  submission: { host: string; port: number; user: string; password: string }
  dashboard: { url: string | null; user: string; password: string }
  redisUrl: string
  demoPartners: { good: string; broken: string }
}

interface MessageView {
  jobs: Array<{
    state: string
    data: {
      domain: string
      lastFailure?: { code: string; status: string }
      results: Array<{ recipient: string; outcome: string }>
    }
  }>
}

let scratch: Scratch
let stack: Run | undefined
let started: Array<{ pid: number; command: string }> = []

const READY = /^mailconnect ready/m

const start = async () => {
  const run = runIn(scratch.dir, "npm", ["start"])
  await waitFor("mailconnect ready", () => (READY.test(run.output()) ? true : undefined), {
    timeoutMs: 240_000,
    output: run.output,
  })
  return run
}

/**
 * SIGINT to the whole process group, as Ctrl-C in a terminal does. pnpm itself may exit at once;
 * the launcher below it finishes stopping what it started, then prints `mailconnect stopped`.
 */
const interrupt = async (run: Run) => {
  try {
    process.kill(-run.child.pid!, "SIGINT")
  } catch (error) {
    // The group may be gone already (npm itself dies of the SIGINT); the launcher's own
    // "mailconnect stopped" below is what counts.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error
  }
  await run.exited
  await waitFor(
    "mailconnect stopped",
    () => (/^mailconnect stopped$/m.test(run.output()) ? true : undefined),
    { timeoutMs: 60_000, output: run.output },
  )
}

const stackJson = (): StackJson => JSON.parse(readFileSync(join(scratch.dir, ".local", "stack.json"), "utf8"))

const submit = async (to: string, subject: string) => {
  const s = stackJson().submission
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    requireTLS: true,
    tls: {
      ca: readFileSync(join(scratch.dir, ".local", "pki", "ca.pem"), "utf8"),
      servername: "relay.mailconnect.local",
    },
    auth: { user: s.user, pass: s.password },
  })
  try {
    const info = await transport.sendMail({ from: "demo@acme.example", to, subject, text: "stack test\n" })
    return /queued as (\S+)/.exec(info.response)![1]!
  } finally {
    transport.close()
  }
}

const show = async (queueId: string): Promise<MessageView> => {
  const result = await shell(
    scratch.dir,
    `pnpm -s mailconnect queue show ${queueId} --json`,
    stackEnv(scratch.dir),
  )
  expect(result.code, result.stderr).toBe(0)
  return jsonOf<MessageView>(result.stdout)
}

beforeAll(() => {
  scratch = scratchCopy()
})

// Timeouts below only bound a hung run on a loaded machine; nothing asserts how fast it is.

afterAll(async () => {
  if (stack && stack.child.exitCode === null && stack.child.signalCode === null) await interrupt(stack)
  for (const p of processesIn(scratch.dir)) process.kill(p.pid, "SIGKILL")
  scratch?.remove()
}, 120_000)

describe("npm start (the README's first command)", () => {
  let brokenQueueId = ""

  it("brings the stack up and writes .local/stack.json", async () => {
    stack = await start()
    const json = stackJson()
    expect(Object.keys(json).sort()).toEqual(["dashboard", "demoPartners", "redisUrl", "submission"])
    expect(Object.keys(json.submission).sort()).toEqual(["host", "password", "port", "user"])
    expect(Object.keys(json.dashboard).sort()).toEqual(["password", "url", "user"])
    expect(json.demoPartners).toEqual({ good: "good-partner.demo", broken: "broken-partner.demo" })
    expect(json.redisUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/)
    expect(stack.output()).toContain(`swaks --server 127.0.0.1:${json.submission.port} --tls`)
    expect(stack.output()).toContain(json.submission.password)
    // The signing key never reaches the console.
    const signingKey = readFileSync(join(scratch.dir, ".local", "keys", "signing.key"), "utf8")
    expect(stack.output()).not.toContain(signingKey.split("\n")[1])
    if (json.dashboard.url) {
      const response = await fetch(json.dashboard.url, {
        headers: {
          authorization: `Basic ${Buffer.from(`${json.dashboard.user}:${json.dashboard.password}`).toString("base64")}`,
        },
      })
      expect(response.status).toBe(200)
    }
    // Everything the command started, for the clean-up check at the end.
    started = processesIn(scratch.dir)
    expect(started.some((p) => p.command.includes("redis-server"))).toBe(true)
    // A 250 means on disk (README, "Durability"): AOF with fsync before every reply.
    const port = new URL(json.redisUrl).port
    const config = (name: string) =>
      execFileSync("redis-cli", ["-p", port, "CONFIG", "GET", name], { encoding: "utf8" }).split("\n")[1]
    expect([config("appendonly"), config("appendfsync"), config("maxmemory-policy")]).toEqual([
      "yes",
      "always",
      "noeviction",
    ])
    expect(started.some((p) => /run\.mjs relay|apps\/relay\/src\/main\.ts/.test(p.command))).toBe(true)
  }, 300_000)

  it("delivers to the good demo partner over enforced TLS", async () => {
    const queueId = await submit("someone@good-partner.demo", "to the good partner")
    const view = await waitFor(
      "delivery to good-partner.demo",
      async () => {
        const v = await show(queueId)
        return v.jobs[0]?.state === "completed" ? v : undefined
      },
      120_000,
    )
    expect(view.jobs[0]!.data.results).toEqual([
      expect.objectContaining({ recipient: "someone@good-partner.demo", outcome: "delivered" }),
    ])
    await waitFor(
      "the partner's receipt on the console",
      () =>
        /good-partner\.demo received a message .* over TLSv1\.[23]/.test(stack!.output()) ? true : undefined,
      30_000,
    )
  }, 300_000)

  it("defers mail to the broken demo partner with CERT_EXPIRED", async () => {
    brokenQueueId = await submit("someone@broken-partner.demo", "to the broken partner")
    const view = await waitFor(
      "a failed attempt",
      async () => {
        const v = await show(brokenQueueId)
        return v.jobs[0]?.data.lastFailure ? v : undefined
      },
      120_000,
    )
    expect(view.jobs[0]!.state).toBe("delayed")
    expect(view.jobs[0]!.data.lastFailure).toEqual(
      expect.objectContaining({ code: "CERT_EXPIRED", status: "4.7.5" }),
    )
  }, 300_000)

  it("stops everything it started on Ctrl-C", async () => {
    await interrupt(stack!)
    await waitFor(
      "every started process to exit",
      () => (started.every((p) => !isAlive(p.pid)) ? true : undefined),
      30_000,
    )
    expect(processesIn(scratch.dir)).toEqual([])
  }, 300_000)

  it("reuses keys, PKI and queued mail on a second run", async () => {
    const firstJson = stackJson()
    stack = await start()
    const second = processesIn(scratch.dir)
    expect(stack.output()).toContain("reusing .local/keys")
    expect(stack.output()).toContain("reusing the dev PKI")
    expect(stackJson().submission.password).toBe(firstJson.submission.password)
    expect(existsSync(join(scratch.dir, ".local", "redis", "appendonlydir"))).toBe(true)
    const view = await show(brokenQueueId)
    expect(view.jobs[0]!.data.lastFailure?.code).toBe("CERT_EXPIRED")
    await interrupt(stack)
    await waitFor(
      "every started process to exit",
      () => (second.every((p) => !isAlive(p.pid)) ? true : undefined),
      30_000,
    )
    expect(processesIn(scratch.dir)).toEqual([])
  }, 300_000)
})
