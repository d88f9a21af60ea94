// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's innerText is the text a user sees, which is what these assertions are about.
/**
 * The queue page in a real browser (Debian chromium via playwright-core) over a real Redis
 * holding a signed bundle (partners bank and insurer) and real queued mail, parked as a worker
 * parks it after a deferral. A viewer sees the queue and the audit but no actions and is refused
 * them (403); an admin filters, previews an action (nothing changes), confirms it (it happens,
 * with an audit entry naming the admin), and is refused a bounce without a reason. A cross-site
 * post is refused; the page loads nothing foreign and raises no CSP violation.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { BullBoardQueue, DeliveryQueue, Enqueue } from "@mailconnect/delivery-queue"
import { PolicyView } from "@mailconnect/policy"
import { parseRedisUrl, RedisConnectionFactory } from "@mailconnect/redis-client"
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import {
  makeSigner,
  partner,
  policyWith,
  publishSigned,
  redisLayer,
  signedPolicy,
} from "@mailconnect/test-support"
import { Effect, Either, Layer } from "effect"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CHROMIUM_ARGS, ensureChromium } from "./support/chromium"
import { ADMIN, type RunningDashboard, startDashboard, VIEWER } from "./support/dashboard"

interface CspViolation {
  readonly violatedDirective: string
  readonly sample: string
}
declare const document: {
  addEventListener: (type: "securitypolicyviolation", listener: (e: CspViolation) => void) => void
}
declare const window: { __reportCspViolation: (text: string) => void }

const ARTIFACTS = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
  "test-artifacts",
  "dashboard",
)
const PREFIX = `dashqueue${process.pid}`
const HOUR = 3_600_000
const HOSTILE_SENDER = '"<img src=x onerror=alert(1)>"@customer.example'
const HOSTILE_REASON = "<img src=x onerror=alert(2)>"

let redis: RedisServer
let dashboard: RunningDashboard
const contexts: Array<BrowserContext> = []
const dirs: Array<string> = []
let viewer: Page
let admin: Page
const foreignRequests: Array<string> = []
const cspViolations: Array<string> = []
let bank: ReadonlyArray<string>
let insurer: string
let unreadable: string

const queueLayer = () =>
  DeliveryQueue.layer.pipe(
    Layer.provide(
      Layer.merge(
        RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redis.url, PREFIX))),
        PolicyView.none,
      ),
    ),
  )

/** Queues a message and parks its job as a worker does after a failed first attempt. */
const queueDeferred = (recipient: string, code: string, sender = "alice@customer.example") =>
  Effect.gen(function* () {
    const enqueue = yield* Enqueue
    const { queue } = yield* BullBoardQueue
    const now = Date.now()
    const { messageId, jobIds } = yield* enqueue.enqueue({
      sender,
      recipients: [recipient],
      body: Buffer.from("Subject: x\r\n\r\nhi\r\n"),
      arrivalAt: now - 2 * HOUR,
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

/**
 * A Redis writer's work: a job's data replaced by something no relay reads, and the job moved
 * to the failed set with a reason of the writer's choosing (markup).
 */
const parkFailed = (recipient: string) =>
  Effect.gen(function* () {
    const enqueue = yield* Enqueue
    const { queue } = yield* BullBoardQueue
    const { messageId, jobIds } = yield* enqueue.enqueue({
      sender: "alice@customer.example",
      recipients: [recipient],
      body: Buffer.from("Subject: x\r\n\r\nhi\r\n"),
      arrivalAt: Date.now() - 2 * HOUR,
    })
    const job = (yield* Effect.promise(() => queue.getJob(jobIds[0]!)))!
    yield* Effect.promise(() => job.remove())
    yield* Effect.promise(() => queue.add(job.name, { hostile: true }, { jobId: job.id!, delay: HOUR }))
    const id = job.id!
    yield* Effect.promise(async () => {
      await redisCommand(redis.port, "ZREM", queue.toKey("delayed"), id)
      await redisCommand(redis.port, "ZADD", queue.toKey("failed"), String(Date.now()), id)
      await redisCommand(
        redis.port,
        "HSET",
        queue.toKey(id),
        "failedReason",
        HOSTILE_REASON,
        "finishedOn",
        String(Date.now()),
      )
    })
    return messageId
  })

const jobOf = (jobId: string) =>
  Effect.runPromise(
    Effect.flatMap(BullBoardQueue, ({ queue }) =>
      Effect.promise(async () => {
        const job = await queue.getJob(jobId)
        return job ? { state: await job.getState(), delay: Number(job.delay), data: job.data } : undefined
      }),
    ).pipe(Effect.provide(queueLayer()), Effect.scoped),
  )

const browse = async (executablePath: string, credentials: { user: string; password: string }) => {
  const dir = mkdtempSync(join(tmpdir(), "mc-chromium-"))
  dirs.push(dir)
  const context = await chromium.launchPersistentContext(dir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    httpCredentials: { username: credentials.user, password: credentials.password },
    viewport: { width: 1440, height: 900 },
    locale: "en-US",
    timezoneId: "UTC",
  })
  contexts.push(context)
  const page = context.pages()[0] ?? (await context.newPage())
  page.on("request", (r) => {
    if (!r.url().startsWith(dashboard.url) && !r.url().startsWith("data:")) foreignRequests.push(r.url())
  })
  await page.exposeFunction("__reportCspViolation", (text: string) => cspViolations.push(text))
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__reportCspViolation(`${e.violatedDirective} ${e.sample}`),
    ),
  )
  return page
}

beforeAll(async () => {
  const executablePath = ensureChromium()
  mkdirSync(ARTIFACTS, { recursive: true })
  redis = await startRedis()
  const signer = makeSigner()
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
  ;[bank, insurer, unreadable] = await Effect.runPromise(
    Effect.all([
      Effect.all([
        queueDeferred("a@bank.example", "CERT_PIN_MISMATCH"),
        queueDeferred("b@bank.example", "CERT_PIN_MISMATCH", HOSTILE_SENDER),
      ]),
      queueDeferred("c@insurer.example", "CONNECT_REFUSED"),
      parkFailed("d@elsewhere.example"),
    ]).pipe(Effect.provide(queueLayer()), Effect.scoped),
  )
  dashboard = await startDashboard({ redisUrl: redis.url, prefix: PREFIX, signer })
  viewer = await browse(executablePath, VIEWER)
  admin = await browse(executablePath, ADMIN)
}, 180_000)

afterAll(async () => {
  for (const context of contexts) await context.close()
  await dashboard?.stop()
  await redis?.stop()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const rows = (page: Page, table: string) => page.locator(`#${table} tbody tr[data-job]`)

describe("queue page in chromium", { timeout: 120_000 }, () => {
  it("shows a viewer the queue and the audit, no actions, and refuses them", async () => {
    await viewer.goto(`${dashboard.url}/queue`)
    expect(await viewer.locator('nav a[aria-current="page"]').innerText()).toBe("Queue management")
    expect(await rows(viewer, "queue-list").count()).toBe(4)
    expect(await viewer.locator("#queue-summary").innerText()).toBe("4 job(s), 4 message(s).")
    const row = viewer.locator(`#queue-list tr[data-job="${bank[0]}/bank.example"]`)
    expect(await row.getAttribute("data-state")).toBe("deferred")
    expect(await row.locator("td").allInnerTexts()).toEqual([
      bank[0],
      "bank.example",
      // The state tag is set in capitals by the stylesheet.
      "DEFERRED",
      "2h",
      "1",
      expect.stringMatching(/Z$/),
      "CERT_PIN_MISMATCH",
      "bank",
      "alice@customer.example",
      "a@bank.example",
    ])
    // A sender that is markup is shown as text.
    expect(
      await viewer.locator(`#queue-list tr[data-job="${bank[1]}/bank.example"] td`).nth(8).innerText(),
    ).toBe(HOSTILE_SENDER)
    // A failed job whose data no relay can read: named by its id, its reason (markup) as text.
    const failed = viewer.locator(`#queue-list tr[data-job="${unreadable}/elsewhere.example"]`)
    expect(await failed.getAttribute("data-state")).toBe("failed")
    expect(await failed.locator("td").allInnerTexts()).toEqual([
      unreadable,
      "elsewhere.example",
      `FAILED\n${HOSTILE_REASON} (data unreadable)`,
      // Its age is the job's own (the writer made it anew), not the message's arrival.
      "0m",
      "0",
      "never",
      "—",
      "—",
      "?",
      "",
    ])
    expect(await viewer.locator("#queue-list img").count()).toBe(0)
    expect(await viewer.locator("#queue-action").count()).toBe(0)
    expect(await viewer.locator("#queue-viewer").innerText()).toBe("Queue actions need the admin role.")
    const refused = await viewer.request.post(`${dashboard.url}/queue/preview`, {
      form: { partner: "bank", action: "hold" },
    })
    expect(refused.status()).toBe(403)
  })

  it("lets an admin filter, preview (nothing changes), confirm (it happens), and see the audit entry", async () => {
    await admin.goto(`${dashboard.url}/queue`)
    await admin.fill('#queue-filter input[name="partner"]', "bank")
    await admin.click("#queue-filter button")
    expect(await rows(admin, "queue-list").count()).toBe(2)

    await admin.selectOption('#queue-action select[name="action"]', "hold")
    await admin.fill('#queue-action input[name="reason"]', "bank pin rollover")
    await admin.click("#queue-action button")
    expect(await admin.locator("#queue-preview").getAttribute("data-count")).toBe("2")
    expect(await rows(admin, "queue-would-touch").count()).toBe(2)
    expect((await jobOf(`${bank[0]}/bank.example`))?.delay).toBe(HOUR)
    await admin.screenshot({ path: join(ARTIFACTS, "queue-preview.png"), fullPage: true })

    await admin.click("#queue-confirm button")
    const result = admin.locator("#queue-result")
    expect(await result.getAttribute("data-count")).toBe("2")
    expect(await result.getAttribute("data-audit")).toMatch(/^\d+-\d+$/)
    expect((await jobOf(`${bank[0]}/bank.example`))?.delay).toBeGreaterThan(50 * 365 * 24 * HOUR)
    expect((await jobOf(`${insurer}/insurer.example`))?.delay).toBe(HOUR)

    await admin.goto(`${dashboard.url}/queue?state=held`)
    expect(await rows(admin, "queue-list").count()).toBe(2)
    expect(await admin.locator("#queue-list .hold").first().innerText()).toContain("by mailadmin (dashboard)")
    const entry = admin.locator("#queue-audit tbody tr").first()
    expect(await entry.getAttribute("data-action")).toBe("hold")
    expect(await entry.locator("td").nth(1).innerText()).toBe("mailadmin")
    expect(await entry.locator("td").nth(5).innerText()).toBe("2")
    await admin.screenshot({ path: join(ARTIFACTS, "queue.png"), fullPage: true })
  })

  it("refuses a bounce without a reason, and bounces with one", async () => {
    await admin.goto(`${dashboard.url}/queue?domain=insurer.example`)
    await admin.selectOption('#queue-action select[name="action"]', "bounce")
    await admin.click("#queue-action button")
    expect(await admin.locator("#queue-refused").innerText()).toBe(
      "Bounce: state the reason the sender will read.",
    )

    await admin.goto(`${dashboard.url}/queue?domain=insurer.example`)
    await admin.selectOption('#queue-action select[name="action"]', "bounce")
    await admin.fill('#queue-action input[name="reason"]', "insurer.example closed its gateway")
    await admin.click("#queue-action button")
    expect(await admin.locator("#queue-preview").getAttribute("data-count")).toBe("1")
    await admin.click("#queue-confirm button")
    expect(await admin.locator("#queue-result").getAttribute("data-action")).toBe("bounce")
    // Promoted with the NDR owed; the relay's worker sends it (tested in delivery-queue).
    const job = await jobOf(`${insurer}/insurer.example`)
    expect(job?.state).toBe("waiting")
    expect(job?.data.reportsOwed[0].recipients[0]).toMatchObject({
      code: "OPERATOR_BOUNCE",
      detail: "insurer.example closed its gateway",
    })
  })

  it("refuses an unconfirmed or cross-site action, and loads nothing foreign", async () => {
    const unconfirmed = await admin.request.post(`${dashboard.url}/queue/act`, {
      form: { partner: "bank", action: "release", ids: bank.join(" ") },
    })
    expect(unconfirmed.status()).toBe(400)
    const foreign = await admin.request.post(`${dashboard.url}/queue/act`, {
      form: { partner: "bank", action: "release", ids: bank.join(" "), confirm: "yes" },
      headers: { origin: "http://attacker.example" },
    })
    expect(foreign.status()).toBe(403)
    expect((await jobOf(`${bank[0]}/bank.example`))?.delay).toBeGreaterThan(50 * 365 * 24 * HOUR)
    expect(foreignRequests).toEqual([])
    expect(cspViolations).toEqual([])
  })
})
