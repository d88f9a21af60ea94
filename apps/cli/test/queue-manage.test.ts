/**
 * `mailconnect queue list|hold|release|retry|delete|bounce` as a real process on real queued mail
 * (a real redis-server, a signed bundle naming the partners): bulk by filter with a dry run
 * (table and --json) and the `--yes` confirmation, by message id, the usage errors (exit 2), the
 * result alone on stdout and the audit line on stderr. No worker runs: mail is parked as a
 * worker parks it after a deferral, so every state change seen is the command's.
 */
import { execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { BullBoardQueue, DeliveryQueue, Enqueue, QueueAudit } from "@mailconnect/delivery-queue"
import { PolicyView } from "@mailconnect/policy"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import {
  makeSigner,
  partner,
  policyWith,
  publishSigned,
  redisLayer,
  signedPolicy,
} from "@mailconnect/test-support"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ROOT, tempDir } from "./policy-cli"

const LAUNCH = join(ROOT, "tools", "launch", "run.mjs")
const PREFIX = "climanage"
const HOUR = 3_600_000

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

let env: Record<string, string>

/** `mailconnect …` as a process, killed after 60 s. */
const mailconnect = (...args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [LAUNCH, "cli", ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    )
  })

let redis: RedisServer
const queueLayer = () =>
  DeliveryQueue.layer.pipe(
    Layer.provide(
      Layer.merge(
        RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redis.url, PREFIX))),
        PolicyView.none,
      ),
    ),
  )

/** Queues a message and parks its jobs as a worker does after a failed first attempt. */
const queueDeferred = (recipient: string, code: string, ageMs = 0) =>
  Effect.gen(function* () {
    const enqueue = yield* Enqueue
    const { queue } = yield* BullBoardQueue
    const now = Date.now()
    const { messageId, jobIds } = yield* enqueue.enqueue({
      sender: "alice@customer.example",
      recipients: [recipient],
      body: Buffer.from("Subject: x\r\n\r\nhi\r\n"),
      arrivalAt: now - ageMs,
    })
    const job = (yield* Effect.promise(() => queue.getJob(jobIds[0]!)))!
    yield* Effect.promise(() => job.remove())
    const data = {
      ...job.data,
      attemptCount: 1,
      nextAttemptAt: now + HOUR,
      lastFailure: { code, status: "4.7.5", at: now, server: "mx.partner.example:25" },
    }
    yield* Effect.promise(() => queue.add(job.name, data, { jobId: job.id!, delay: HOUR }))
    return messageId
  })

const stateOf = (jobId: string) =>
  Effect.runPromise(
    Effect.flatMap(BullBoardQueue, ({ queue }) =>
      Effect.promise(async () => {
        const job = await queue.getJob(jobId)
        return job ? { state: await job.getState(), delay: Number(job.delay), data: job.data } : undefined
      }),
    ).pipe(Effect.provide(queueLayer()), Effect.scoped),
  )

let bank: ReadonlyArray<string>
let insurer: string
let old: string

beforeAll(async () => {
  redis = await startRedis()
  const signer = makeSigner()
  const keyFile = join(tempDir("queue-manage"), "signing.pub")
  writeFileSync(keyFile, signer.publicPem)
  const policy = policyWith([
    partner("bank", { domains: ["bank.example"] }),
    partner("insurer", { domains: ["insurer.example"] }),
  ])
  await Effect.runPromise(
    publishSigned(signer, signedPolicy(signer, policy, 3)).pipe(
      Effect.provide(redisLayer(redis.url, PREFIX)),
      Effect.scoped,
    ),
  )
  ;[bank, insurer, old] = await Effect.runPromise(
    Effect.all([
      Effect.forEach(
        Array.from({ length: 12 }, (_, i) => `u${i}@bank.example`),
        (r) => queueDeferred(r, "CERT_PIN_MISMATCH"),
      ),
      queueDeferred("x@insurer.example", "CONNECT_REFUSED"),
      queueDeferred("y@insurer.example", "CONNECT_REFUSED", 5 * HOUR),
    ]).pipe(Effect.provide(queueLayer()), Effect.scoped),
  )
  env = { REDIS_URL: redis.url, REDIS_PREFIX: PREFIX, MAILCONNECT_TRUSTED_KEYS: keyFile, SUDO_USER: "carol" }
}, 120_000)
afterAll(() => redis.stop())

describe("mailconnect queue management", () => {
  it("lists mailq-style and by filter, as a table and as JSON", async () => {
    const table = await mailconnect("queue", "list")
    expect(table.code).toBe(0)
    const lines = table.stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(
      /^JOB \(MESSAGE\/DOMAIN\)\s+STATE\s+AGE\s+TRIES\s+NEXT\s+CODE\s+PARTNER\s+SENDER$/,
    )
    expect(lines.at(-1)).toBe("-- 14 job(s), 14 message(s), 14 pending recipient(s)")
    expect(table.stdout).toMatch(
      new RegExp(
        `${old}/insurer\\.example\\s+deferred\\s+5h\\s+1\\s+\\S+Z\\s+CONNECT_REFUSED\\s+insurer\\s+alice@customer\\.example\\n {4}y@insurer\\.example\\n`,
      ),
    )
    // The result alone on stdout: the hot-loader's log line goes to stderr.
    expect(table.stdout).not.toContain("level=")

    const json = JSON.parse(
      (await mailconnect("queue", "list", "--code", "CONNECT_REFUSED", "--older-than", "2h", "--json"))
        .stdout,
    )
    expect(json).toEqual([expect.objectContaining({ messageId: old, partner: "insurer", state: "deferred" })])
    expect(
      JSON.parse((await mailconnect("queue", "list", "--partner", "bank", "--json")).stdout),
    ).toHaveLength(12)
  })

  it("refuses what it cannot mean: exit 2 with a usage, nothing touched", async () => {
    for (const args of [
      ["queue", "hold"],
      ["queue", "bounce", "--reason", "x"],
      ["queue", "delete", "--domain", "bank.example"],
      ["queue", "delete", "--ndr", "--silent", "--all"],
      ["queue", "list", "--code", "NO_SUCH_CODE"],
      ["queue", "list", "--older-than", "2 hours"],
      ["queue", "list", "--state", "sleeping"],
    ]) {
      const result = await mailconnect(...args)
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: "" })
      expect(result.stderr).toContain("usage:")
    }
  })

  it("holds in bulk: dry run (table and JSON), refused above the limit without --yes, then done and audited", async () => {
    const dry = await mailconnect("queue", "hold", "--partner", "bank", "--dry-run")
    expect(dry.code).toBe(0)
    expect(dry.stdout.split("\n")[0]).toBe(
      "hold — dry run, nothing changed: would hold 12 job(s) of 12 message(s), left 0",
    )
    expect(dry.stdout.match(/^would hold\s+\S+\/bank\.example\s+deferred/gm)).toHaveLength(12)
    const dryJson = JSON.parse(
      (await mailconnect("queue", "hold", "--partner", "bank", "--dry-run", "--json")).stdout,
    )
    expect(dryJson).toMatchObject({
      dryRun: true,
      action: { action: "hold" },
      selection: { partner: "bank" },
    })
    expect(dryJson.touched).toHaveLength(12)
    expect((await stateOf(`${bank[0]}/bank.example`))?.state).toBe("delayed")

    const refused = await mailconnect("queue", "hold", "--partner", "bank", "--reason", "pin rollover")
    expect(refused).toMatchObject({ code: 1, stdout: "" })
    expect(refused.stderr).toContain("hold would touch 12 messages (more than 10): nothing done")
    expect((await stateOf(`${bank[0]}/bank.example`))?.delay).toBe(HOUR)

    const held = await mailconnect(
      "queue",
      "hold",
      "--partner",
      "bank",
      "--reason",
      "pin rollover",
      "--yes",
      "--json",
    )
    expect(held.code).toBe(0)
    const report = JSON.parse(held.stdout)
    expect(report.touched).toHaveLength(12)
    expect(report.auditId).toMatch(/^\d+-\d+$/)
    expect(held.stderr).toMatch(/message="queue action".*\\"actor\\":\\"carol\\".*\\"action\\":\\"hold\\"/)
    const listed = JSON.parse((await mailconnect("queue", "list", "--state", "held", "--json")).stdout)
    expect(listed).toHaveLength(12)
    expect(listed[0].hold).toMatchObject({ by: "carol (cli)", reason: "pin rollover" })

    const audit = await Effect.runPromise(
      Effect.flatMap(QueueAudit, (a) => a.recent(5)).pipe(
        Effect.provide(QueueAudit.layer),
        Effect.provide(redisLayer(redis.url, PREFIX)),
        Effect.scoped,
      ),
    )
    expect(audit[0]).toMatchObject({
      actor: "carol",
      via: "cli",
      action: "hold",
      touched: 12,
      reason: "pin rollover",
    })
    expect(audit[0]!.messageIds).toEqual([...bank])
  })

  it("releases, retries, deletes and bounces by message id", async () => {
    const released = await mailconnect("queue", "release", bank[0]!)
    expect(released.stdout).toMatch(
      /^release: released 1 job\(s\) of 1 message\(s\), left 0 \(audit \d+-\d+\)$/m,
    )
    expect((await stateOf(`${bank[0]}/bank.example`))?.state).toBe("delayed")
    expect((await stateOf(`${bank[0]}/bank.example`))?.delay).toBeLessThanOrEqual(HOUR)

    const retried = await mailconnect("queue", "retry", bank[0]!, bank[1]!)
    expect(retried.stdout).toMatch(/promoted 1 job\(s\) of 1 message\(s\), left 1/)
    expect(retried.stdout).toMatch(new RegExp(`^left: held\\s+${bank[1]}/bank\\.example`, "m"))
    expect((await stateOf(`${bank[0]}/bank.example`))?.state).toBe("waiting")

    expect((await mailconnect("queue", "delete", "--silent", insurer)).code).toBe(0)
    expect(await stateOf(`${insurer}/insurer.example`)).toBeUndefined()

    const bounced = await mailconnect("queue", "bounce", "--reason", "bank closed this mailbox", bank[2]!)
    expect(bounced.stdout).toMatch(/^bounce \("bank closed this mailbox"\): returned 1 job\(s\)/)
    // Promoted with the NDR owed: the next worker run sends it (the delivery-queue tests run that part).
    const after = await stateOf(`${bank[2]}/bank.example`)
    expect(after?.state).toBe("waiting")
    expect(after?.data.pending).toEqual([])
    expect(after?.data.reportsOwed[0].recipients[0]).toMatchObject({
      address: "u2@bank.example",
      code: "OPERATOR_BOUNCE",
      detail: "bank closed this mailbox",
    })
  })
})
