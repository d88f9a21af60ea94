// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's innerText is the text a user sees, which is what these assertions are about.
/**
 * The dashboard in a real browser (Debian chromium, headless, driven by playwright-core) over a
 * real world: Redis, a signed policy bundle, two relay heartbeats, and delivery jobs run by a
 * real worker against partner-lab SMTP servers. Logs in as the read-only operator, finds the
 * enforce partner's deferred job in bull-board and reads `CERT_EXPIRED` in its log, checks the
 * fleet (two relays, one serial) and policy (overdue review highlighted) pages and the TLS
 * health page (per partner, per policy source, and the DANE/MTA-STS failures — two recorded
 * straight into the read model, one of them a hostile HTML-looking domain), and saves a screenshot of each under test-artifacts/dashboard/. The page may load
 * nothing from another origin and must raise no CSP violation.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { DeliveryStats, QueueLayout } from "@mailconnect/delivery-queue"
import { type Lab, startLab } from "@mailconnect/partner-lab"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { makeSigner, redisLayer } from "@mailconnect/test-support"
import { Effect, Layer } from "effect"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CHROMIUM_ARGS, ensureChromium } from "./support/chromium"
import { type RunningDashboard, startDashboard, VIEWER } from "./support/dashboard"
import { buildWorld, COMMIT, PUBLISHER, SERIAL, type World } from "./support/world"

// These run inside the page; the workspace compiles without the DOM library.
interface CspViolation {
  readonly violatedDirective: string
  readonly sourceFile: string
  readonly lineNumber: number
  readonly sample: string
}
declare const document: {
  addEventListener: (type: "securitypolicyviolation", listener: (e: CspViolation) => void) => void
}
declare const window: { __reportCspViolation: (text: string) => void }
declare const getComputedStyle: (element: unknown) => { backgroundColor: string }

const ARTIFACTS = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
  "test-artifacts",
  "dashboard",
)
const PREFIX = `dashui${process.pid}`
/** A recipient domain that is markup: it must reach the page as text, never as an element. */
const HOSTILE_DOMAIN = '"><img src=x onerror=alert(1)>.example'

let redis: RedisServer
let lab: Lab
let world: World
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
  lab = await startLab({ scenarios: ["expired", "good"] })
  const signer = makeSigner()
  world = await buildWorld({ lab, redisUrl: redis.url, prefix: PREFIX, signer })
  // Failed DANE and MTA-STS authentications of domains without an agreement, as a worker records them.
  const failure = { partner: "-", delivered: 0, bounced: 0, tls: undefined } as const
  await Effect.runPromise(
    Effect.gen(function* () {
      const stats = yield* DeliveryStats
      yield* stats.record(
        {
          ...failure,
          domain: "dane-broken.example",
          source: "dane",
          at: Date.now() - 5 * 60_000,
          deferred: 2,
          code: "DANE_TLSA_MISMATCH",
          server: "mx.dane-broken.example:25",
        },
        0,
      )
      yield* stats.record(
        {
          ...failure,
          domain: HOSTILE_DOMAIN,
          source: "mta-sts",
          at: Date.now() - 10 * 60_000,
          deferred: 1,
          code: "MTA_STS_MX_MISMATCH",
          server: "<b>mx</b>:25",
        },
        0,
      )
    }).pipe(
      Effect.provide(
        DeliveryStats.layer.pipe(
          Layer.provide(QueueLayout.layer),
          Layer.provide(redisLayer(redis.url, PREFIX)),
        ),
      ),
    ),
  )
  dashboard = await startDashboard({ redisUrl: redis.url, prefix: PREFIX, signer })
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
  page.on("request", (request) => {
    if (!request.url().startsWith(dashboard.url) && !request.url().startsWith("data:"))
      foreignRequests.push(request.url())
  })
  // Every CSP violation, with the blocked sample and where it came from.
  await page.exposeFunction("__reportCspViolation", (text: string) => cspViolations.push(text))
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__reportCspViolation(`${e.violatedDirective} ${e.sourceFile}:${e.lineNumber} ${e.sample}`),
    ),
  )
}, 180_000)

afterAll(async () => {
  await context?.close()
  await dashboard?.stop()
  world?.cleanup()
  await lab?.stop()
  await redis?.stop()
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true })
})

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })

describe("dashboard in chromium", { timeout: 120_000 }, () => {
  it("shows the enforce partner's deferred job with CERT_EXPIRED in its job log (bull-board)", async () => {
    await page.goto(`${dashboard.url}/queues/queue/delivery?status=delayed`)
    // The job is named `<domain> <partner> <message id>`, so an operator can search for any of them.
    await page.getByText(/^contoso\.example contoso mx/).waitFor()
    await page.getByRole("tab", { name: "Logs" }).click()
    const line = page.getByText(/attempt 1 \| serial 42 \|.*CERT_EXPIRED 4\.7\.5/)
    await line.first().waitFor()
    const text = await line.first().innerText()
    expect(text).toContain(`server ${lab.scenario("expired").name}:${lab.scenario("expired").port}`)
    expect(text).toMatch(/\| next \d{4}-\d\d-\d\dT/)
    // The read-only operator is offered no actions.
    for (const action of [/^promote/i, /^retry/i, /^remove/i, /^clean/i])
      expect(await page.getByRole("button", { name: action }).count()).toBe(0)
    await shot("queue-deferred-job-log")
  })

  it("shows two relays converged on the published serial (fleet page)", async () => {
    await page.goto(`${dashboard.url}/fleet`)
    const rows = page.locator("#relays tbody tr[data-relay]")
    expect(await rows.count()).toBe(2)
    expect(await rows.locator("td:first-child").allInnerTexts()).toEqual(["relay-a", "relay-b"])
    expect(await rows.locator("td.serial").allInnerTexts()).toEqual([String(SERIAL), String(SERIAL)])
    expect(await page.locator("#current-serial").innerText()).toBe(String(SERIAL))
    expect(await page.locator("#convergence").getAttribute("data-converged")).toBe("true")
    expect(await page.locator("#convergence").innerText()).toContain(`all 2 relay(s) run serial ${SERIAL}`)
    await shot("fleet")
  })

  it("highlights the overdue certificate review (policy page)", async () => {
    await page.goto(`${dashboard.url}/policy`)
    expect(await page.locator("#active-serial").innerText()).toBe(String(SERIAL))
    const facts = await page.locator("dl.facts").innerText()
    expect(facts).toContain(PUBLISHER)
    expect(facts).toContain(COMMIT)
    const overdue = page.locator('tr[data-partner="contoso"] td.date[data-state="overdue"]').first()
    expect(await overdue.innerText()).toMatch(/^2025-06-01\s+OVERDUE$/i)
    // Highlighted for real: the stylesheet applied under the CSP paints the cell.
    expect(await overdue.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe("rgb(253, 231, 229)")
    const current = page.locator('tr[data-partner="fabrikam"] td.date').first()
    expect(await current.getAttribute("data-state")).toBe("ok")
    expect(await current.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe("rgba(0, 0, 0, 0)")
    expect(await page.locator('tr[data-partner="contoso"] .mode').innerText()).toBe("enforce")
    await shot("policy")
  })

  it("shows deliveries, deferrals by code and the last TLS evidence (TLS health page)", async () => {
    await page.goto(`${dashboard.url}/health`)
    const contoso = page.locator('tr[data-partner="contoso"]')
    expect(await contoso.innerText()).toContain("CERT_EXPIRED")
    expect(await contoso.locator("td.num").allInnerTexts()).toEqual(["0", "1", "0"])
    const fabrikam = page.locator('tr[data-partner="fabrikam"]')
    expect(await fabrikam.locator("td.num").allInnerTexts()).toEqual(["1", "0", "0"])
    expect(await fabrikam.locator(".evidence").innerText()).toMatch(/TLSv1\.[23]/)
    await shot("tls-health")
  })

  it("counts recipients per policy source and lists the failed DANE and MTA-STS domains, escaped (TLS health page)", async () => {
    await page.goto(`${dashboard.url}/health`)
    const counts = async (source: string) =>
      page.locator(`#sources tr[data-source="${source}"] td.num`).allInnerTexts()
    // contoso's CERT_EXPIRED deferral and fabrikam's delivery were both authenticated by the partner policy.
    expect(await counts("partner")).toEqual(["1", "1", "0"])
    expect(await counts("dane")).toEqual(["0", "2", "0"])
    expect(await counts("mta-sts")).toEqual(["0", "1", "0"])
    expect(await counts("none")).toEqual(["0", "0", "0"])

    const rows = page.locator("#auth-failures tbody tr")
    expect(await rows.count()).toBe(2)
    const dane = rows.nth(0)
    expect(await dane.getAttribute("data-domain")).toBe("dane-broken.example")
    expect(await dane.locator("td").allInnerTexts()).toEqual([
      "dane-broken.example",
      "DANE_TLSA_MISMATCH",
      "dane",
      expect.stringMatching(/^\d{4}-\d\d-\d\dT.*\(5 min ago\)$/),
      "mx.dane-broken.example:25",
    ])
    // The hostile domain and server are text in their cells and the attribute; no element came of them.
    const hostile = rows.nth(1)
    expect(await hostile.getAttribute("data-domain")).toBe(HOSTILE_DOMAIN)
    expect(await hostile.locator("td.domain").innerText()).toBe(HOSTILE_DOMAIN)
    expect(await hostile.locator("td").nth(4).innerText()).toBe("<b>mx</b>:25")
    expect(await page.locator("main img, main b").count()).toBe(0)
    await shot("tls-health-sources")
  })

  it("watches the enforced partners' certificates: contoso's expired one, fabrikam's valid one (TLS health page)", async () => {
    await page.goto(`${dashboard.url}/health`)
    const contoso = page.locator('#partner-watch tr[data-watch-partner="contoso"]')
    expect(await contoso.locator("td").nth(2).innerText()).toContain("expired")
    expect(await contoso.locator("td").nth(4).innerText()).toMatch(
      /expires \d{4}-\d\d-\d\d \(-\d+ d\).*sha256\//s,
    )
    const fabrikam = page.locator('#partner-watch tr[data-watch-partner="fabrikam"]')
    expect(await fabrikam.locator("td").nth(2).innerText()).toBe("—")
    expect(await fabrikam.locator("td").nth(4).innerText()).toMatch(/expires \d{4}-\d\d-\d\d \(\d+ d\)/)
    await shot("tls-health-watch")
  })

  it("loaded nothing from another origin and broke no CSP rule", () => {
    expect(foreignRequests).toEqual([])
    expect(cspViolations).toEqual([])
  })
})
