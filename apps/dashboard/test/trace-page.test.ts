// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's innerText is the text a user sees, which is what these assertions are about.
/**
 * The message trace page in a real browser (Debian chromium via playwright-core) over a real
 * Redis holding trace records written through `TraceIndex` as the relays write them: a message
 * deferred for an expired certificate, its delay DSN, then delivered; another from a sender whose
 * address is markup. Behind the dashboard's authentication; searched through its form by
 * recipient, code and time; one message opened with each attempt's TLS evidence; a bad time is
 * refused with a reason; the hostile address renders as text; nothing foreign, no CSP violation.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { request } from "node:http"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { makeTraceIndex, type TraceLine } from "@mailconnect/message-trace"
import { RedisClient } from "@mailconnect/redis-client"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { makeSigner, redisLayer } from "@mailconnect/test-support"
import { Effect, Layer } from "effect"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CHROMIUM_ARGS, ensureChromium } from "./support/chromium"
import { type RunningDashboard, startDashboard, VIEWER } from "./support/dashboard"

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
const PREFIX = `dashtrace${process.pid}`
const HOSTILE_SENDER = '"<img src=x onerror=alert(1)>"@customer.example'
const MIN = 60_000
const NOW = Date.now()
const iso = (t: number) => new Date(t).toISOString()
type AttemptLine = Omit<Extract<TraceLine, { event: "attempt" }>, "relay">

const tls = (ok: boolean): NonNullable<AttemptLine["tls"]> => ({
  protocol: "TLSv1.3",
  cipher: "TLS_AES_256_GCM_SHA384",
  peer: {
    subject: "CN=mx.bank.example",
    issuer: "CN=Bank Issuing CA",
    subjectAltNames: ["DNS:mx.bank.example"],
    notAfter: ok ? "2027-06-01T00:00:00.000Z" : "2025-01-01T00:00:00.000Z",
    spkiPin: "sha256/q5Xv0Yk1b9sQe3m7Rz5tT3l2pX8wY9a0bC1dE2fG3hI=",
  },
  verification: ok
    ? { ok: true, findings: [], matchedName: "mx.bank.example" }
    : { ok: false, failure: "CERT_EXPIRED", findings: ["CERT_EXPIRED"] },
})

const attempt = (n: number, at: number, delivered: boolean): AttemptLine => ({
  event: "attempt",
  at: iso(at),
  queueId: "q-bob",
  messageId: "report-7@customer.example",
  attempt: n,
  sender: "alice@customer.example",
  domain: "bank.example",
  partner: "bank",
  source: "partner",
  result: delivered ? "delivered" : "deferred",
  recipients: [
    delivered
      ? {
          address: "bob@bank.example",
          outcome: "delivered",
          status: "2.0.0",
          reply: "250 2.0.0 Ok: queued as 4F2",
        }
      : {
          address: "bob@bank.example",
          outcome: "deferred",
          status: "4.7.5",
          reply: "certificate has expired",
        },
  ],
  ...(delivered ? {} : { code: "CERT_EXPIRED", nextAttemptAt: iso(at + 5 * MIN) }),
  server: "mx.bank.example:25",
  tls: tls(delivered),
  bundleSerial: 12,
})

let redis: RedisServer
let dashboard: RunningDashboard
let context: BrowserContext
let page: Page
let userDataDir: string
const foreignRequests: Array<string> = []
const cspViolations: Array<string> = []

beforeAll(async () => {
  const executablePath = ensureChromium()
  mkdirSync(ARTIFACTS, { recursive: true })
  redis = await startRedis()
  await Effect.runPromise(
    Effect.gen(function* () {
      const trace = makeTraceIndex(yield* RedisClient, { relay: "relay-a", retentionMs: 30 * 86_400_000 })
      yield* trace.record({
        event: "session-in",
        at: iso(NOW - 30 * MIN),
        queueId: "q-bob",
        messageId: "report-7@customer.example",
        listener: "submission",
        client: { address: "192.0.2.10", helo: "laptop.customer.example" },
        tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" },
        user: "alice",
        sender: "alice@customer.example",
        recipients: ["bob@bank.example"],
        size: 4096,
      })
      yield* trace.record(attempt(1, NOW - 29 * MIN, false))
      yield* trace.record({
        event: "dsn",
        at: iso(NOW - 20 * MIN),
        queueId: "q-bob",
        dsnQueueId: "q-bob.delay",
        kind: "delay",
        to: "alice@customer.example",
        recipients: [{ address: "bob@bank.example", status: "4.7.5", code: "CERT_EXPIRED" }],
      })
      yield* trace.record(attempt(2, NOW - 10 * MIN, true))
      yield* trace.record({
        event: "session-in",
        at: iso(NOW - 5 * MIN),
        queueId: "q-hostile",
        listener: "mx",
        client: { address: "198.51.100.7", helo: "<b>helo</b>" },
        tls: null,
        sender: HOSTILE_SENDER,
        recipients: ["carol@customer.example"],
        size: 900,
      })
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(redisLayer(redis.url, PREFIX)))),
  )
  dashboard = await startDashboard({ redisUrl: redis.url, prefix: PREFIX, signer: makeSigner() })
  userDataDir = mkdtempSync(join(tmpdir(), "mc-chromium-"))
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    httpCredentials: { username: VIEWER.user, password: VIEWER.password },
    viewport: { width: 1440, height: 900 },
    locale: "en-US",
    timezoneId: "UTC",
  })
  page = context.pages()[0] ?? (await context.newPage())
  page.on("request", (r) => {
    if (!r.url().startsWith(dashboard.url) && !r.url().startsWith("data:")) foreignRequests.push(r.url())
  })
  await page.exposeFunction("__reportCspViolation", (text: string) => cspViolations.push(text))
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__reportCspViolation(`${e.violatedDirective} ${e.sample}`),
    ),
  )
}, 180_000)

afterAll(async () => {
  await context?.close()
  await dashboard?.stop()
  await redis?.stop()
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true })
})

const anonymousStatus = (path: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const url = new URL(path, dashboard.url)
    request({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}` }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
      .on("error", reject)
      .end()
  })

describe("the message trace page, in chromium", { timeout: 120_000 }, () => {
  it("answers nobody without credentials", async () => {
    expect(await anonymousStatus("/trace?to=bob@bank.example")).toBe(401)
  })

  it("lists the newest messages, and finds one through the form by recipient, code and time", async () => {
    await page.goto(`${dashboard.url}/trace`)
    expect(await page.locator('nav a[aria-current="page"]').innerText()).toBe("Message trace")
    const rows = page.locator("#trace-results tbody tr")
    expect(
      await rows.evaluateAll((trs) =>
        trs.map((tr) => (tr as unknown as { dataset: { queueId: string } }).dataset.queueId),
      ),
    ).toEqual(["q-hostile", "q-bob"])
    await page.fill('#trace-search input[name="to"]', "bob@bank.example")
    await page.fill('#trace-search input[name="code"]', "cert_expired")
    await page.fill('#trace-search input[name="since"]', "1h")
    await page.click("#trace-search button")
    await page.waitForURL(/to=bob%40bank\.example/)
    expect(await rows.count()).toBe(1)
    const bob = page.locator('#trace-results tr[data-queue-id="q-bob"]')
    expect(await bob.getAttribute("data-status")).toBe("delivered")
    expect(await bob.locator("td").allInnerTexts()).toEqual([
      iso(NOW - 10 * MIN).replace(/\.\d{3}Z$/, "Z"),
      "q-bob",
      "alice@customer.example",
      "bob@bank.example",
      // The status tag is shown in capitals (the stylesheet's text-transform).
      "DELIVERED",
      "—",
      "bank",
      "2",
      "report-7@customer.example",
    ])
    // The form keeps what was typed.
    expect(await page.inputValue('#trace-search input[name="code"]')).toBe("cert_expired")
    await page.fill('#trace-search input[name="since"]', "")
    await page.fill('#trace-search input[name="until"]', iso(NOW - 40 * MIN))
    await page.click("#trace-search button")
    await page.waitForURL(/until=/)
    expect(await page.locator("#trace-results td.none").innerText()).toBe("No messages match.")
  })

  it("opens a message: its acceptance, each attempt with its TLS evidence, and its DSN", async () => {
    await page.goto(`${dashboard.url}/trace?to=bank.example`)
    await page.click('#trace-results tr[data-queue-id="q-bob"] a')
    await page.waitForURL(/queue-id=q-bob/)
    expect(await page.locator("#trace-message").getAttribute("data-queue-id")).toBe("q-bob")
    const events = page.locator("section.trace-line")
    expect(
      await events.evaluateAll((s) =>
        s.map((e) => (e as unknown as { dataset: { event: string } }).dataset.event),
      ),
    ).toEqual(["session-in", "attempt", "dsn", "attempt"])
    const first = page.locator('section[data-attempt="1"]')
    expect(await first.getAttribute("data-result")).toBe("deferred")
    expect(await first.locator('[data-fact="code"]').innerText()).toBe("CERT_EXPIRED")
    expect(await first.locator('[data-fact="peer not after"]').innerText()).toBe("2025-01-01T00:00:00.000Z")
    expect(await first.locator('[data-fact="verification"]').innerText()).toBe("failed: CERT_EXPIRED")
    expect(await first.locator('[data-fact="next attempt"]').innerText()).toMatch(/^\d{4}-/)
    const second = page.locator('section[data-attempt="2"]')
    expect(await second.locator(".tls").getAttribute("data-verified")).toBe("true")
    expect(await second.locator('[data-fact="protocol"]').innerText()).toBe("TLSv1.3")
    expect(await second.locator('[data-fact="peer subject"]').innerText()).toBe("CN=mx.bank.example")
    expect(await second.locator('[data-fact="peer issuer"]').innerText()).toBe("CN=Bank Issuing CA")
    expect(await second.locator('[data-fact="peer pin"]').innerText()).toMatch(/^sha256\//)
    expect(await second.locator('[data-fact="matched name"]').innerText()).toBe("mx.bank.example")
    expect(await second.locator('[data-fact="bundle serial"]').innerText()).toBe("12")
    expect(await second.locator("td.reply").innerText()).toBe("250 2.0.0 Ok: queued as 4F2")
    expect(await page.locator('section[data-event="dsn"] [data-fact="DSN queue id"]').innerText()).toBe(
      "q-bob.delay",
    )
    expect(await page.locator('section[data-event="session-in"] [data-fact="user"]').innerText()).toBe(
      "alice",
    )
    await page.screenshot({ path: join(ARTIFACTS, "trace.png"), fullPage: true })
  })

  it("refuses a time it cannot read, saying why", async () => {
    await page.goto(`${dashboard.url}/trace?since=yesterday-ish`)
    expect(await page.locator("#trace-problem").innerText()).toContain(
      "“yesterday-ish” is neither a duration",
    )
  })

  it("shows a hostile sender as text, and loads nothing foreign", async () => {
    await page.goto(`${dashboard.url}/trace?queue-id=q-hostile`)
    expect(await page.locator('#trace-results tr[data-queue-id="q-hostile"] td.sender').innerText()).toBe(
      HOSTILE_SENDER,
    )
    expect(await page.locator('section[data-event="session-in"] [data-fact="sender"]').innerText()).toBe(
      HOSTILE_SENDER,
    )
    expect(await page.locator('section[data-event="session-in"] [data-fact="client"]').innerText()).toBe(
      "198.51.100.7 (<b>helo</b>)",
    )
    expect(await page.locator("main img, main b").count()).toBe(0)
    expect(foreignRequests).toEqual([])
    expect(cspViolations).toEqual([])
  })
})
