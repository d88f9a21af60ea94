/**
 * Operations endpoints on `RELAY_HTTP_HOST:RELAY_HTTP_PORT` (loopback by default; no auth, so
 * keep it off public interfaces): `/healthz` (process alive), `/readyz` (a bundle is active,
 * every role is up — SMTP listeners bound, workers consuming — and the relay is not draining), `/metrics` (Prometheus text); and `/.well-known/mta-sts.txt` for
 * `Host: mta-sts.<local domain>` (see mta-sts-host.ts), for operators who put a TLS terminator in
 * front that forwards only that path.
 */
import { createServer } from "node:http"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { MTA_STS_WELL_KNOWN_PATH } from "@mailconnect/policy"
import { ActivePolicy } from "@mailconnect/policy-store"
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "@mailconnect/telemetry"
import { Effect, Layer, Option, SubscriptionRef } from "effect"
import { RelayConfig } from "../config"
import { RelayLifecycle } from "../lifecycle"
import { publishedPolicyText } from "./mta-sts-host"

const readiness = Effect.gen(function* () {
  const policy = yield* ActivePolicy
  const lifecycle = yield* RelayLifecycle
  const active = yield* policy.current
  const draining = yield* SubscriptionRef.get(lifecycle.draining)
  const running = yield* SubscriptionRef.get(lifecycle.running)
  const ready = Option.isSome(active) && running && !draining
  const body = {
    ready,
    running,
    draining,
    bundle: Option.match(active, {
      onNone: () => null,
      onSome: (b) => ({ serial: b.serial, digest: b.digest }),
    }),
  }
  return yield* HttpServerResponse.json(body, { status: ready ? 200 : 503 })
})

const mtaStsPolicy = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const text = yield* publishedPolicyText(request.headers.host)
  return text === undefined
    ? HttpServerResponse.text("not found\n", { status: 404 })
    : HttpServerResponse.text(text, { contentType: "text/plain" })
})

const router = HttpRouter.empty.pipe(
  HttpRouter.get(MTA_STS_WELL_KNOWN_PATH, mtaStsPolicy),
  HttpRouter.get("/healthz", HttpServerResponse.text("ok\n")),
  HttpRouter.get("/readyz", readiness),
  HttpRouter.get(
    "/metrics",
    Effect.map(renderPrometheus, (text) =>
      HttpServerResponse.text(text, { contentType: PROMETHEUS_CONTENT_TYPE }),
    ),
  ),
)

export const HttpLayer = Layer.unwrapEffect(
  Effect.map(RelayConfig, (config) =>
    HttpServer.serve(router).pipe(
      HttpServer.withLogAddress,
      Layer.provide(NodeHttpServer.layer(createServer, { host: config.http.host, port: config.http.port })),
    ),
  ),
)
