/**
 * The dashboard over HTTP against a real Redis and real BullMQ jobs: every route refuses
 * missing or wrong credentials with 401 (pages, bull-board's page, its static files, its API,
 * our fonts and stylesheet, unknown paths); a viewer reads but gets 403 on retry, promote and
 * remove while the admin's calls change the jobs; cross-origin writes are refused; headers,
 * escaping and the failure pages hold.
 */
import { signBundle } from "@mailconnect/bundle"
import { DeliveryStats, QueueLayout } from "@mailconnect/delivery-queue"
import { FleetRegistry } from "@mailconnect/fleet"
import { PolicyStore } from "@mailconnect/policy-store"
import { type RedisServer, redisCommand, startRedis } from "@mailconnect/test-redis"
import { makeSigner, redisLayer, waitFor } from "@mailconnect/test-support"
import { Queue, Worker } from "bullmq"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CONTENT_SECURITY_POLICY } from "../src"
import { ADMIN, basic, type RunningDashboard, startDashboard, VIEWER } from "./support/dashboard"

const PREFIX = `dash${process.pid}`

let redis: RedisServer
let dashboard: RunningDashboard
let queue: Queue
let worker: Worker<unknown, unknown>
let mainScript = ""

const withRedis = <A, E>(effect: Effect.Effect<A, E, FleetRegistry | PolicyStore>) =>
  Effect.runPromise(
    effect.pipe(
      Effect.provide(
        Layer.mergeAll(FleetRegistry.layer, PolicyStore.layer).pipe(
          Layer.provideMerge(redisLayer(redis.url, PREFIX)),
        ),
      ),
    ),
  )

const request = (
  path: string,
  init: { method?: string; auth?: string; headers?: Record<string, string> } = {},
) =>
  fetch(`${dashboard.url}${path}`, {
    method: init.method ?? "GET",
    redirect: "manual",
    headers: { ...(init.auth ? { authorization: init.auth } : {}), ...init.headers },
  })

const stateOf = async (id: string) => (await queue.getJob(id))?.getState() ?? "missing"

beforeAll(async () => {
  redis = await startRedis()
  dashboard = await startDashboard({ redisUrl: redis.url, prefix: PREFIX, signer: makeSigner() })
  const connection = { host: redis.host, port: redis.port }
  queue = new Queue("delivery", { connection, prefix: `{${PREFIX}}` })
  // Real jobs in the states the actions apply to: delayed (promote), failed (retry), failed (remove).
  await queue.add("delayed.example - m1", { n: 1 }, { jobId: "to-promote", delay: 3_600_000 })
  await queue.add("failed.example - m2", { n: 2 }, { jobId: "to-retry", attempts: 1 })
  await queue.add("failed.example - m3", { n: 3 }, { jobId: "to-remove", attempts: 1 })
  worker = new Worker<unknown, unknown>(
    "delivery",
    async () => {
      throw new Error("refused by test worker")
    },
    { connection, prefix: `{${PREFIX}}` },
  )
  await waitFor(
    "the test worker to fail to-retry and to-remove",
    async () => (await stateOf("to-retry")) === "failed" && (await stateOf("to-remove")) === "failed",
    { timeoutMs: 10_000, intervalMs: 25 },
  )
  await worker.close()
  const page = await (await request("/queues", { auth: basic(VIEWER) })).text()
  mainScript = /static\/js\/main\.[0-9a-f]+\.js/.exec(page)?.[0] ?? ""
}, 60_000)

afterAll(async () => {
  await worker?.close()
  await queue?.close()
  await dashboard?.stop()
  await redis?.stop()
})

const ROUTES = () => [
  "/",
  "/fleet",
  "/policy",
  "/health",
  "/queues",
  "/queues/",
  "/queues/queue/delivery",
  `/queues/${mainScript}`,
  "/queues/static/favicon.ico",
  "/queues/static/images/logo.svg",
  "/fonts/ibm-plex-sans/400.css",
  "/assets/dashboard.css",
  "/queues/api/queues",
  "/queues/api/queues/delivery/to-retry",
  "/queues/api/queues/delivery/to-retry/logs",
  "/queues/api/redis/stats",
  "/no-such-page",
]

const ACTIONS = [
  ["PUT", "/queues/api/queues/delivery/to-retry/retry"],
  ["PUT", "/queues/api/queues/delivery/to-promote/promote"],
  ["PUT", "/queues/api/queues/delivery/to-remove/clean"],
  ["PUT", "/queues/api/queues/delivery/retry/failed"],
  ["PUT", "/queues/api/queues/delivery/promote"],
  ["PUT", "/queues/api/queues/delivery/empty"],
  ["PUT", "/queues/api/queues/delivery/obliterate"],
  ["PUT", "/queues/api/queues/pause"],
  ["POST", "/queues/api/queues/delivery/add"],
] as const

const WRONG = [
  ["no Authorization header", undefined],
  ["wrong password", basic({ user: VIEWER.user, password: "nope" })],
  ["wrong user", basic({ user: "intruder", password: VIEWER.password })],
  ["admin name with the viewer's password", basic({ user: ADMIN.user, password: VIEWER.password })],
  ["empty credentials", basic({ user: "", password: "" })],
  ["malformed Basic", "Basic !!!not-base64"],
  ["another scheme", `Bearer ${VIEWER.password}`],
] as const

describe("authentication on every route", { timeout: 30_000 }, () => {
  it("found bull-board's main script to probe", () => {
    expect(mainScript).toMatch(/^static\/js\/main\./)
  })

  for (const [label, auth] of WRONG)
    it(`answers 401 with ${label}`, async () => {
      for (const path of ROUTES()) {
        const response = await request(path, auth ? { auth } : {})
        expect({ path, status: response.status }).toEqual({ path, status: 401 })
        expect(response.headers.get("www-authenticate")).toBe(
          'Basic realm="mailconnect dashboard", charset="UTF-8"',
        )
        expect(response.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY)
      }
      for (const [method, path] of ACTIONS) {
        const response = await request(path, { method, ...(auth ? { auth } : {}) })
        expect({ method, path, status: response.status }).toEqual({ method, path, status: 401 })
      }
      expect(await stateOf("to-promote")).toBe("delayed")
      expect(await stateOf("to-retry")).toBe("failed")
      expect(await stateOf("to-remove")).toBe("failed")
    })

  it("lets both accounts read every route", async () => {
    for (const who of [VIEWER, ADMIN])
      for (const path of ROUTES()) {
        const response = await request(path, { auth: basic(who) })
        const expected = path === "/" ? 302 : path === "/no-such-page" ? 404 : 200
        expect({ path, status: response.status }).toEqual({ path, status: expected })
      }
  })
})

describe("roles", { timeout: 30_000 }, () => {
  it("refuses every bull-board action to the viewer with 403 and changes nothing", async () => {
    for (const [method, path] of ACTIONS) {
      const response = await request(path, {
        method,
        auth: basic(VIEWER),
        headers: { "content-type": "application/json", origin: dashboard.url },
      })
      expect({ method, path, status: response.status }).toEqual({ method, path, status: 403 })
      expect(await response.json()).toEqual({ error: "admin role required", role: "viewer" })
    }
    expect(await stateOf("to-promote")).toBe("delayed")
    expect(await stateOf("to-retry")).toBe("failed")
    expect(await stateOf("to-remove")).toBe("failed")
    expect(await queue.isPaused()).toBe(false)
  })

  it("shows the viewer a read-only board and the admin a full one", async () => {
    type Board = { queues: Array<{ name: string; readOnlyMode: boolean }> }
    const viewer = (await (await request("/queues/api/queues", { auth: basic(VIEWER) })).json()) as Board
    const admin = (await (await request("/queues/api/queues", { auth: basic(ADMIN) })).json()) as Board
    expect(viewer.queues.map((q) => [q.name, q.readOnlyMode])).toEqual([["delivery", true]])
    expect(admin.queues.map((q) => [q.name, q.readOnlyMode])).toEqual([["delivery", false]])
  })

  it("shows one board entry per shard of a sharded fleet, the layout taken from Redis", async () => {
    const prefix = `${PREFIX}sh`
    await redisCommand(redis.port, "SET", `{${prefix}}:layout:shards`, "3")
    const sharded = await startDashboard({ redisUrl: redis.url, prefix, signer: makeSigner() })
    try {
      type Board = { queues: Array<{ name: string; readOnlyMode: boolean }> }
      const board = (await (
        await fetch(`${sharded.url}/queues/api/queues`, { headers: { authorization: basic(VIEWER) } })
      ).json()) as Board
      expect(board.queues.map((q) => q.name).sort()).toEqual([
        "delivery",
        "shard1-delivery",
        "shard2-delivery",
      ])
    } finally {
      await sharded.stop()
    }
  })

  it("refuses the admin's actions from another origin or site", async () => {
    for (const headers of [{ origin: "http://evil.example" }, { "sec-fetch-site": "cross-site" }]) {
      const response = await request("/queues/api/queues/delivery/to-promote/promote", {
        method: "PUT",
        auth: basic(ADMIN),
        headers,
      })
      expect(response.status).toBe(403)
    }
    expect(await stateOf("to-promote")).toBe("delayed")
  })

  it("lets the admin promote, retry and remove", async () => {
    const headers = { origin: dashboard.url, "sec-fetch-site": "same-origin" }
    const promote = await request("/queues/api/queues/delivery/to-promote/promote", {
      method: "PUT",
      auth: basic(ADMIN),
      headers,
    })
    expect(promote.status).toBe(204)
    expect(await stateOf("to-promote")).toBe("waiting")

    const retry = await request("/queues/api/queues/delivery/to-retry/retry", {
      method: "PUT",
      auth: basic(ADMIN),
      headers,
    })
    expect(retry.status).toBe(204)
    expect(await stateOf("to-retry")).toBe("waiting")

    const remove = await request("/queues/api/queues/delivery/to-remove/clean", {
      method: "PUT",
      auth: basic(ADMIN),
      headers,
    })
    expect(remove.status).toBe(204)
    expect(await stateOf("to-remove")).toBe("missing")
  })
})

describe("pages", { timeout: 30_000 }, () => {
  it("serves bull-board without Google Fonts or inline styles, fonts from /fonts", async () => {
    const page = await (await request("/queues", { auth: basic(VIEWER) })).text()
    expect(page).not.toContain("googleapis")
    expect(page).not.toMatch(/https?:\/\//)
    expect(page).not.toContain("style=")
    expect(page).toContain('<link href="/fonts/ibm-plex-sans/400.css" rel="stylesheet">')
    const css = await (await request("/fonts/ibm-plex-sans/400.css", { auth: basic(VIEWER) })).text()
    const font = /url\(\.\/(files\/[^)]+\.woff2)\)/.exec(css)?.[1]
    expect(font).toBeDefined()
    const fontResponse = await request(`/fonts/ibm-plex-sans/${font}`, { auth: basic(VIEWER) })
    expect(fontResponse.status).toBe(200)
    expect(fontResponse.headers.get("content-type")).toBe("font/woff2")
  })

  it("escapes what relays write into their heartbeats", async () => {
    const hostile = `<img src=x onerror="alert(1)">`
    await withRedis(
      Effect.flatMap(FleetRegistry, (fleet) =>
        fleet.beat(
          {
            relayId: hostile,
            version: "1.0.0'\"><script>",
            hostname: "h",
            pid: 1,
            roles: ["delivery"],
            bundle: null,
            supportedSchemas: [1],
            draining: false,
            startedAt: new Date().toISOString(),
            updatedAt: new Date().toISOString(),
          },
          "30 seconds",
        ),
      ),
    )
    const page = await (await request("/fleet", { auth: basic(VIEWER) })).text()
    expect(page).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;")
    expect(page).not.toContain("<img")
    expect(page).not.toContain("<script>")
    await withRedis(Effect.flatMap(FleetRegistry, (fleet) => fleet.remove(hostile)))
  })

  it("says so when no policy was published, and refuses a bundle signed by an untrusted key", async () => {
    const before = await request("/policy", { auth: basic(VIEWER) })
    expect(before.status).toBe(200)
    expect(await before.text()).toContain('data-failure="BundleNotPublished"')

    const stranger = makeSigner()
    const bytes = signBundle({ schema: 1, serial: 7 }, [stranger.signing])
    const digest = (JSON.parse(bytes) as { digest?: string }).digest ?? "unknown"
    await withRedis(
      Effect.flatMap(PolicyStore, (store) =>
        store.swap({ bytes, digest, serial: 7, schema: 1, publishedAt: new Date().toISOString() }),
      ),
    )
    const after = await request("/policy", { auth: basic(VIEWER) })
    expect(after.status).toBe(500)
    const text = await after.text()
    expect(text).toContain('data-failure="BundleUnverified"')
    expect(text).not.toContain("Active serial")
  })

  it("shows the TLS health page with no traffic yet", async () => {
    const response = await request("/health", { auth: basic(VIEWER) })
    expect(response.status).toBe(200)
    expect(await response.text()).toContain("No deliveries in the last 24 hours.")
  })

  it("escapes recipient domains and servers in the list of failed DANE and MTA-STS authentications", async () => {
    const hostile = `x"><img src=x onerror="alert(1)">.example`
    await Effect.runPromise(
      Effect.flatMap(DeliveryStats, (stats) =>
        stats.record(
          {
            partner: "-",
            domain: hostile,
            source: "dane",
            at: Date.now(),
            delivered: 0,
            deferred: 1,
            bounced: 0,
            code: "DANE_TLSA_MISMATCH",
            server: "<script>mx</script>:25",
            tls: undefined,
          },
          0,
        ),
      ).pipe(
        Effect.provide(
          DeliveryStats.layer.pipe(
            Layer.provide(QueueLayout.layer),
            Layer.provide(redisLayer(redis.url, PREFIX)),
          ),
        ),
      ),
    )
    const page = await (await request("/health", { auth: basic(VIEWER) })).text()
    expect(page).toContain('data-domain="x&quot;&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.example"')
    expect(page).toContain("&lt;script&gt;mx&lt;/script&gt;:25")
    expect(page).not.toContain("<img")
    expect(page).not.toContain("<script")
    expect(page).toMatch(
      /<tr data-source="dane">\s*<td><strong>DANE<\/strong><\/td>\s*<td class="num">0<\/td>\s*<td class="num warn">1<\/td>/,
    )
  })
})
