/**
 * The HTTPS report endpoint, real on both ends: a `node:https` client that verifies the endpoint's
 * certificate (test-pki root, name `tlsrpt.our.example`) POSTs reports, and a real Redis keeps
 * them. A gzip report shows in the store (201), the same report again is stored once (200); a
 * JSON report is taken too; wrong method, path, media type, too large a body, a gzip bomb, an
 * invalid report, a body that never ends and a Redis that does not answer each get their status —
 * and nothing is stored.
 */
import { request } from "node:https"
import { gzipSync } from "node:zlib"
import type { RedisClient } from "@mailconnect/redis-client"
import { createRootCa } from "@mailconnect/test-pki"
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { deletePrefix, redisLayer, uniquePrefix } from "@mailconnect/test-support"
import { Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { inboundHttpsServer, ReceivedReports, ReportDomains } from "../src/inbound"
import { sampleReport } from "./rfc-example"

const NAME = "tlsrpt.our.example"
const LIMITS = { maxBodyBytes: 32 * 1024, maxReportBytes: 128 * 1024 }

let redis: RedisServer
let rootPem: string
let port: number
let scope: Scope.CloseableScope
let run: <A, E>(effect: Effect.Effect<A, E, ReceivedReports | RedisClient>) => Promise<A>
const prefix = uniquePrefix("tlsrpt-https")

beforeAll(async () => {
  redis = await startRedis()
  const root = await createRootCa()
  const server = await root.issueServer({ names: [NAME] })
  rootPem = root.certPem
  scope = Effect.runSync(Scope.make())
  // our.example is ours (the relay binds ReportDomains to the bundle's local domains).
  const ours = Layer.succeed(ReportDomains, {
    isOurs: (domain: string) => Effect.succeed(domain === "our.example"),
  })
  const layer = Layer.merge(
    ReceivedReports.layer.pipe(Layer.provideMerge(redisLayer(redis.url, prefix))),
    ours,
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  run = (effect) => Effect.runPromise(Effect.provide(effect, context))
  const endpoint = await Effect.runPromise(
    inboundHttpsServer({
      host: "127.0.0.1",
      port: 0,
      cert: server.chainPem,
      key: server.keyPem,
      limits: LIMITS,
      bodyTimeoutMs: 500,
    }).pipe(Effect.provide(context), Scope.extend(scope)),
  )
  port = endpoint.port
})

afterAll(async () => {
  // The listener and the Redis connection close with the scope, also when a test failed.
  if (scope) await run(Effect.ignore(deletePrefix(prefix))).catch(() => undefined)
  if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
  await redis?.stop()
})

interface Answer {
  readonly status: number
  readonly body: string
  readonly headers: Record<string, string | Array<string> | undefined>
}

/** One request with certificate checks on; `body` is sent whole, or not ended when `hang`. */
const send = (options: {
  readonly method?: string
  readonly path?: string
  readonly contentType?: string
  readonly body?: Buffer
  readonly hang?: boolean
}): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        servername: NAME,
        ca: rootPem,
        rejectUnauthorized: true,
        method: options.method ?? "POST",
        path: options.path ?? "/tlsrpt",
        headers: {
          ...(options.contentType ? { "content-type": options.contentType } : {}),
          ...(options.hang ? { "content-length": "1000" } : {}),
        },
        agent: false,
      },
      (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (chunk) => {
          body += chunk
        })
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: body.trim(), headers: res.headers }))
      },
    )
    req.on("error", reject)
    if (options.hang) req.write(Buffer.alloc(10, 32))
    else req.end(options.body)
  })

const gzipOf = (value: unknown) => gzipSync(JSON.stringify(value))
const recent = () => run(Effect.flatMap(ReceivedReports, (r) => r.recent(100)))

describe("the HTTPS report endpoint", () => {
  it("stores a gzip report POSTed by a verifying client, and the same report again only once", async () => {
    const report = sampleReport({ "report-id": "https-1" })
    const first = await send({ contentType: "application/tlsrpt+gzip", body: gzipOf(report) })
    expect(first).toMatchObject({ status: 201, body: "report stored" })
    const again = await send({ contentType: "application/tlsrpt+gzip", body: gzipOf(report) })
    expect(again).toMatchObject({ status: 200, body: "report already stored" })
    const stored = (await recent()).filter((r) => r.reportId === "https-1")
    expect(stored).toMatchObject([{ organization: "Reporter Inc.", via: "https", successful: 40, failed: 2 }])
    const daily = await run(Effect.flatMap(ReceivedReports, (r) => r.daily(Date.UTC(2025, 5, 2))))
    expect(daily.rows.find((r) => r.organization === "Reporter Inc.")?.failuresByType).toEqual({
      "certificate-expired": 2,
    })
  })

  it("answers 403 to a report about none of our domains, stores nothing and counts it", async () => {
    const base = sampleReport({ "report-id": "https-stranger" })
    const report = {
      ...base,
      policies: base.policies.map((p) => ({
        ...p,
        policy: { ...p.policy, "policy-domain": "Elsewhere.Example." },
      })),
    }
    const answer = await send({ contentType: "application/tlsrpt+gzip", body: gzipOf(report) })
    expect(answer).toMatchObject({ status: 403, body: "not a domain of ours: elsewhere.example" })
    expect((await recent()).map((r) => r.reportId)).not.toContain("https-stranger")
    const refused = await run(Effect.flatMap(ReceivedReports, (r) => r.rejected(Date.now())))
    expect(refused).toContainEqual(
      expect.objectContaining({ via: "https", reason: "not-our-domain", count: 1 }),
    )
  })

  it("stores a JSON report", async () => {
    const report = sampleReport({ "report-id": "https-json" })
    const answer = await send({
      contentType: "application/tlsrpt+json",
      body: Buffer.from(JSON.stringify(report)),
    })
    expect(answer.status).toBe(201)
    expect((await recent()).map((r) => r.reportId)).toContain("https-json")
  })

  it.each([
    ["another method", 405, { method: "GET" }],
    ["another path", 404, { path: "/other" }],
    ["another media type", 415, { contentType: "application/json" }],
    ["no media type", 415, { contentType: "" }],
  ])("answers %s with %i", async (_name, status, options) => {
    const answer = await send({
      contentType: "application/tlsrpt+gzip",
      body: gzipOf(sampleReport()),
      ...options,
    })
    expect(answer.status).toBe(status)
    if (status === 405) expect(answer.headers.allow).toBe("POST")
  })

  it("answers 413 to a body over the limit, and to a gzip bomb", async () => {
    const big = Buffer.alloc(LIMITS.maxBodyBytes + 1, 32)
    expect((await send({ contentType: "application/tlsrpt+json", body: big })).status).toBe(413)
    const bomb = gzipSync(
      Buffer.concat([Buffer.from(JSON.stringify(sampleReport())), Buffer.alloc(16 << 20, 32)]),
    )
    expect(bomb.length).toBeLessThan(LIMITS.maxBodyBytes)
    const answer = await send({ contentType: "application/tlsrpt+gzip", body: bomb })
    expect(answer).toMatchObject({
      status: 413,
      body: `report larger than ${LIMITS.maxReportBytes} bytes (report)`,
    })
  })

  it("answers 400 with the first violation to an invalid report, and counts it", async () => {
    const { "report-id": _, ...withoutId } = sampleReport()
    const answer = await send({ contentType: "application/tlsrpt+gzip", body: gzipOf(withoutId) })
    expect(answer).toMatchObject({ status: 400, body: "invalid report: /report-id is required" })
    const broken = await send({ contentType: "application/tlsrpt+gzip", body: Buffer.from("{}") })
    expect(broken).toMatchObject({ status: 400, body: "not a report: gzip decoding failed" })
    const rejected = await run(
      Effect.flatMap(ReceivedReports, (r) =>
        Effect.flatMap(
          Effect.clockWith((c) => c.currentTimeMillis),
          r.rejected,
        ),
      ),
    )
    expect(rejected.filter((r) => r.via === "https").map((r) => [r.reason, r.count])).toEqual(
      expect.arrayContaining([
        ["invalid", 1],
        ["undecodable", 1],
      ]),
    )
  })

  it("answers 503 while Redis does not answer, and stores the report once when the reporter tries again", async () => {
    const body = gzipOf(sampleReport({ "report-id": "https-outage" }))
    redis.pause()
    let answer: Answer
    try {
      answer = await send({ contentType: "application/tlsrpt+gzip", body })
    } finally {
      redis.resume()
    }
    expect(answer).toMatchObject({ status: 503, body: "try again later" })
    // The timed-out write may land once Redis answers again: then the retry finds it stored.
    expect([200, 201]).toContain((await send({ contentType: "application/tlsrpt+gzip", body })).status)
    expect((await recent()).filter((r) => r.reportId === "https-outage")).toHaveLength(1)
  })

  it("answers 408 when the body does not arrive in time", async () => {
    const answer = await send({ contentType: "application/tlsrpt+gzip", hang: true })
    expect(answer).toMatchObject({ status: 408, body: "body not received in time" })
  })
})
