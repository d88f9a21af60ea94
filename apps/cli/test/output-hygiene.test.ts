/**
 * Output hygiene of the real `mailconnect` process (issue #16 item 7): a command's result alone
 * on stdout, log lines (the policy hot-loader's, Redis warnings) and errors on stderr, the log
 * level settable, and a usage error (unknown or missing subcommand, bad option) exiting 2 with a
 * short usage on stderr. Against a real redis-server holding a signed bundle and a queued message.
 */
import { type ChildProcess, execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { DeliveryQueue, Enqueue } from "@mailconnect/delivery-queue"
import { PolicyView } from "@mailconnect/policy"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { freePort, type RedisServer, startRedis } from "@mailconnect/test-redis"
import { makeSigner, publishSigned, redisLayer, signed } from "@mailconnect/test-support"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ROOT, tempDir } from "./policy-cli"

const LAUNCH = join(ROOT, "tools", "launch", "run.mjs")
const PREFIX = "clihygiene"
const children = new Set<ChildProcess>()

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** `mailconnect …` as a process; killed after 60 s, and by `afterAll` if the test fails first. */
const mailconnect = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Run> =>
  new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [LAUNCH, "cli", ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        children.delete(child)
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr })
      },
    )
    children.add(child)
  })

let redis: RedisServer
let env: Record<string, string>
let messageId: string

beforeAll(async () => {
  redis = await startRedis()
  const signer = makeSigner()
  const keyFile = join(tempDir("hygiene"), "signing.pub")
  writeFileSync(keyFile, signer.publicPem)
  await Effect.runPromise(
    publishSigned(signer, signed(signer, 3)).pipe(
      Effect.provide(redisLayer(redis.url, PREFIX)),
      Effect.scoped,
    ),
  )
  const queueLayer = DeliveryQueue.layer.pipe(
    Layer.provide(
      Layer.merge(
        RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redis.url, PREFIX))),
        PolicyView.none,
      ),
    ),
  )
  messageId = (
    await Effect.runPromise(
      Effect.flatMap(Enqueue, (queue) =>
        queue.enqueue({
          sender: "alice@customer.example",
          recipients: ["bob@bank.example"],
          body: Buffer.from("Subject: x\r\n\r\nhi\r\n"),
          requireTls: false,
        }),
      ).pipe(Effect.provide(queueLayer), Effect.scoped),
    )
  ).messageId
  env = { REDIS_URL: redis.url, REDIS_PREFIX: PREFIX, MAILCONNECT_TRUSTED_KEYS: keyFile }
}, 60_000)

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL")
  await redis?.stop()
})

const ACTIVATED = /^timestamp=\S+ level=INFO fiber=#\d+ message="policy bundle activated" serial=3 /m
const LOG_LINE = /level=(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)/

describe("results alone on stdout, logs on stderr", () => {
  it("queue show --json: stdout is exactly the JSON document; the hot-loader's line is on stderr", async () => {
    const shown = await mailconnect(["queue", "show", messageId, "--json"], env)
    expect(shown.code, shown.stderr).toBe(0)
    const view = JSON.parse(shown.stdout)
    // One pretty-printed document and a newline: the format scripts already parse.
    expect(shown.stdout).toBe(`${JSON.stringify(view, null, 2)}\n`)
    expect(view).toMatchObject({
      messageId,
      bodyStored: true,
      jobs: [{ state: "waiting", data: { domain: "bank.example", pending: ["bob@bank.example"] } }],
    })
    expect(shown.stdout).not.toMatch(LOG_LINE)
    expect(shown.stderr).toMatch(ACTIVATED)
  }, 90_000)

  it("queue show and queue flush --partner (which reads the bundle): stdout is exactly the result", async () => {
    const [shown, flushed] = await Promise.all([
      mailconnect(["queue", "show", messageId], env),
      mailconnect(["queue", "flush", "--partner", "bank"], env),
    ])
    expect(shown).toMatchObject({ code: 0 })
    expect(shown.stdout).toBe(
      `message ${messageId} (body in spool)\n  bank.example: waiting, 0 attempt(s), next -\n    bob@bank.example: pending\n`,
    )
    expect(shown.stderr).toMatch(ACTIVATED)
    expect(flushed).toMatchObject({ code: 0, stdout: "promoted 0 waiting job(s)\n" })
    expect(flushed.stderr).toMatch(ACTIVATED)
  }, 90_000)

  it("--log-level and MAILCONNECT_LOG_LEVEL silence the log lines below the level; a bad level is a usage error", async () => {
    const [flag, flagAfter, variable, bad] = await Promise.all([
      mailconnect(["--log-level", "warning", "queue", "show", messageId, "--json"], env),
      mailconnect(["queue", "show", messageId, "--json", "--log-level", "none"], env),
      mailconnect(["queue", "show", messageId, "--json"], { ...env, MAILCONNECT_LOG_LEVEL: "warn" }),
      mailconnect(["queue", "show", messageId, "--json"], { ...env, MAILCONNECT_LOG_LEVEL: "loud" }),
    ])
    for (const run of [flag, flagAfter, variable]) {
      expect(run.code, run.stderr).toBe(0)
      expect(JSON.parse(run.stdout).messageId).toBe(messageId)
      expect(run.stderr).not.toMatch(LOG_LINE)
    }
    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe("")
    expect(bad.stderr).toContain("MAILCONNECT_LOG_LEVEL: unknown level 'loud'")
  }, 90_000)

  it("an unreachable Redis: nothing on stdout, the warnings and the error on stderr, exit 1", async () => {
    const down = await mailconnect(["queue", "show", messageId, "--json"], {
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      REDIS_PREFIX: PREFIX,
    })
    expect(down.code).toBe(1)
    expect(down.stdout).toBe("")
    expect(down.stderr).toMatch(/level=WARN .*message="redis [a-z]+: connection lost"/)
    expect(down.stderr).toContain("queue unavailable: QueueUnavailable")
  }, 90_000)

  it("an unknown message: nothing on stdout, the error on stderr, exit 1", async () => {
    const unknown = await mailconnect(["queue", "show", "no-such-id", "--json"], env)
    expect(unknown).toMatchObject({ code: 1, stdout: "" })
    expect(unknown.stderr).toContain("unknown message no-such-id")
  }, 90_000)
})

describe("usage errors exit 2 with a short usage on stderr", () => {
  const TOP = "commands: policy, keys, probe, timeline, fleet, queue, users"

  it("an unknown subcommand, an unknown option and no subcommand at all", async () => {
    const [unknown, bogus, bare] = await Promise.all([
      mailconnect(["no-such-command"]),
      mailconnect(["--no-such-option"]),
      mailconnect([]),
    ])
    for (const run of [unknown, bogus, bare]) {
      expect(run.code, run.stderr).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain("usage: mailconnect <command> [options]")
      expect(run.stderr).toContain(TOP)
      // Short: the problem, the usage, the commands, where the help is; not the full help.
      expect(run.stderr.trim().split("\n").length).toBeLessThanOrEqual(6)
    }
    expect(unknown.stderr).toContain("Invalid subcommand for mailconnect")
    expect(bare.stderr).toContain("missing subcommand for mailconnect")
  }, 90_000)

  it("a group without or with an unknown subcommand lists the group's commands", async () => {
    const [missing, unknown] = await Promise.all([mailconnect(["queue"]), mailconnect(["queue", "purge"])])
    for (const run of [missing, unknown]) {
      expect(run.code, run.stderr).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain("usage:\n  mailconnect queue bounce ")
      expect(run.stderr).toContain(
        "\n  mailconnect queue flush [--domain text] [--partner text]\n  mailconnect queue hold ",
      )
      expect(run.stderr).toContain(
        "\n  mailconnect queue show [--json] <message-id>\nrun `mailconnect queue --help` for details",
      )
    }
    expect(missing.stderr).toMatch(/^missing subcommand for queue\n/)
  }, 90_000)

  it("a bad option or a missing argument of a command shows that command's usage", async () => {
    const [badOption, missingArg] = await Promise.all([
      mailconnect(["queue", "show", messageId, "--no-such-option"], env),
      mailconnect(["queue", "show"], env),
    ])
    for (const run of [badOption, missingArg]) {
      expect(run.code, run.stderr).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain(
        "usage: mailconnect queue show [--json] <message-id>\nrun `mailconnect queue show --help` for details",
      )
    }
    expect(badOption.stderr).toContain("Received unknown argument: '--no-such-option'")
    expect(missingArg.stderr).toContain("Missing argument <message-id>")
  }, 90_000)

  it("--help is a result: the full help on stdout, exit 0", async () => {
    const help = await mailconnect(["--help"])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stderr).toBe("")
    expect(help.stdout).toContain("COMMANDS")
    expect(help.stdout).toContain("queue show [--json] <message-id>")
  }, 90_000)
})
