// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's innerText is the text a user sees, which is what these assertions are about.
/**
 * The "TLS reports received" page in a real browser (Debian chromium via playwright-core) over a
 * real Redis: reports stored through `ReceivedReports` as the relay's endpoints store them — two
 * organisations, one sending the same report twice, one with a name that is markup — and refused
 * reports counted. The page is behind the dashboard's authentication, shows per organisation and
 * day the session counts and failures by result type, the recent reports and the refused ones,
 * escapes the reporters' text, loads nothing from another origin and raises no CSP violation.
 */

import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { request } from "node:http"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { makeSigner, redisLayer } from "@mailconnect/test-support"
import type { TlsReport } from "@mailconnect/tlsrpt"
import { ReceivedReports } from "@mailconnect/tlsrpt/inbound"
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
const PREFIX = `dashtlsrpt${process.pid}`
const HOSTILE_ORG = '<img src=x onerror=alert(1)> "Org"'
// Yesterday (UTC): inside the page's retention window whenever the test runs.
const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)

const report = (
  organization: string,
  id: string,
  failures: TlsReport["policies"][number]["failure-details"],
) =>
  ({
    "organization-name": organization,
    "date-range": { "start-datetime": `${DAY}T00:00:00Z`, "end-datetime": `${DAY}T23:59:59Z` },
    "contact-info": "tlsrpt@reporter.example",
    "report-id": id,
    policies: [
      {
        policy: { "policy-type": "sts", "policy-domain": "acme.example", "mx-host": "mx.acme.example" },
        summary: {
          "total-successful-session-count": 120,
          "total-failure-session-count": (failures ?? []).reduce((n, f) => n + f["failed-session-count"], 0),
        },
        ...(failures ? { "failure-details": failures } : {}),
      },
    ],
  }) satisfies TlsReport

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
  const now = Date.now()
  await Effect.runPromise(
    Effect.gen(function* () {
      const reports = yield* ReceivedReports
      const expired = report("Big Mail Co", "bmc-1", [
        {
          "result-type": "certificate-expired",
          "receiving-mx-hostname": "mx.acme.example",
          "failed-session-count": 7,
        },
        { "result-type": "starttls-not-supported", "failed-session-count": 3 },
      ])
      yield* reports.store(expired, "mailto", now - 60_000)
      // Sent again by the other channel: counted once.
      yield* reports.store(expired, "https", now - 30_000)
      yield* reports.store(report(HOSTILE_ORG, "h-1", undefined), "https", now - 10_000)
      yield* reports.recordRejected("invalid", "mailto", now)
      yield* reports.recordRejected("too-large", "https", now)
    }).pipe(Effect.provide(ReceivedReports.layer.pipe(Layer.provide(redisLayer(redis.url, PREFIX))))),
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

/** The status of a request without credentials. */
const anonymousStatus = (path: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const url = new URL(path, dashboard.url)
    request({ host: url.hostname, port: url.port, path: url.pathname }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
      .on("error", reject)
      .end()
  })

describe("TLS reports received, in chromium", { timeout: 120_000 }, () => {
  it("answers nobody without credentials", async () => {
    expect(await anonymousStatus("/tlsrpt")).toBe(401)
  })

  it("shows per organisation and day the sessions and failures by result type, a duplicate counted once", async () => {
    await page.goto(`${dashboard.url}/tlsrpt`)
    expect(await page.locator('nav a[aria-current="page"]').innerText()).toBe("TLS reports")
    const bmc = page.locator('#tlsrpt-daily tr[data-organization="Big Mail Co"]')
    expect(await bmc.getAttribute("data-day")).toBe(DAY)
    expect(await bmc.getAttribute("data-domain")).toBe("acme.example")
    // Reports, successful, failed: the report sent twice counts once.
    expect(await bmc.locator("td.num").allInnerTexts()).toEqual(["1", "120", "10"])
    expect(await bmc.locator('[data-result-type="certificate-expired"]').innerText()).toBe(
      "certificate-expired 7",
    )
    expect(await bmc.locator('[data-result-type="starttls-not-supported"]').innerText()).toBe(
      "starttls-not-supported 3",
    )
    await page.screenshot({ path: join(ARTIFACTS, "tlsrpt.png"), fullPage: true })
  })

  it("lists the recent reports newest first, and the refused reports by reason", async () => {
    await page.goto(`${dashboard.url}/tlsrpt`)
    const recent = page.locator("#tlsrpt-recent tbody tr")
    expect(await recent.count()).toBe(2)
    expect(await recent.nth(0).getAttribute("data-report-id")).toBe("h-1")
    expect(await recent.nth(1).getAttribute("data-report-id")).toBe("bmc-1")
    // The first channel it came by is the one kept.
    expect(await recent.nth(1).locator("td").nth(3).innerText()).toBe("mailto")
    const refused = page.locator("#tlsrpt-rejected tbody tr")
    expect(await refused.count()).toBe(2)
    expect(await page.locator('#tlsrpt-rejected tr[data-reason="invalid"]').innerText()).toContain("mailto")
    expect(await page.locator('#tlsrpt-rejected tr[data-reason="too-large"] td.num').innerText()).toBe("1")
  })

  it("shows a reporter's markup as text, and loads nothing foreign", async () => {
    await page.goto(`${dashboard.url}/tlsrpt`)
    const hostile = page.locator("#tlsrpt-daily tbody tr").filter({ hasText: "onerror" })
    expect(await hostile.locator("td strong").innerText()).toBe(HOSTILE_ORG)
    expect(await page.locator("#tlsrpt-daily img, #tlsrpt-recent img").count()).toBe(0)
    expect(foreignRequests).toEqual([])
    expect(cspViolations).toEqual([])
  })
})
