/**
 * The HTTPS side of RFC 8460 §5.4 for our own domains: reporters `POST` a report with Content-Type
 * `application/tlsrpt+gzip` or `application/tlsrpt+json` to the `https:` URI of our `_smtp._tls`
 * record. Answers 201 (stored), 200 (a report already stored: sending again is harmless), 400 with
 * a short reason (not a report), 413 (too large), 415 (another media type), 405 (another method),
 * 404 (another path), 408 (the body did not arrive in time), 503 (Redis away: try again later).
 *
 * Trusts nothing in the request: the body is read up to a limit and a deadline, then decoded and
 * validated before anything is stored (`receive.ts`). Reporters are not authenticated (RFC 8460
 * has no means for it); reports are bounded and kept apart from everything else. Touches only its
 * port, the certificate and key it is given, and `ReceivedReports`.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { createServer, type Server } from "node:https"
import type { AddressInfo } from "node:net"
import { Cause, Effect, Exit, Layer, Option, Runtime, type Scope } from "effect"
import { DEFAULT_LIMITS, type ReportLimits, reportEncoding } from "./decode"
import { type ReceivedReportsUnavailable, ReportEndpointFailed, type ReportRejected } from "./errors"
import { type Received, receiveHttpsReport } from "./receive"
import type { ReceivedReports } from "./store"

export interface InboundHttpsConfig {
  readonly host: string
  /** 0 picks a free port (tests); the port bound is returned. */
  readonly port: number
  /** PEM chain whose names cover the host of our `rua=https://…` URI. */
  readonly cert: string
  readonly key: string
  /** Default `/tlsrpt`. */
  readonly path?: string
  readonly limits?: ReportLimits
  /** How long a request may take to send its body; default 15 s. */
  readonly bodyTimeoutMs?: number
}

interface Answer {
  readonly status: number
  readonly text: string
}

/** The answer to a processed body. */
export const answerFor = (exit: Exit.Exit<Received, ReportRejected | ReceivedReportsUnavailable>): Answer => {
  if (Exit.isSuccess(exit))
    return exit.value.outcome === "stored"
      ? { status: 201, text: "report stored" }
      : { status: 200, text: "report already stored" }
  const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
  switch (failure?._tag) {
    case "ReportTooLarge":
      return { status: 413, text: `report larger than ${failure.limit} bytes (${failure.stage})` }
    case "ReportMediaTypeUnsupported":
      return { status: 415, text: "use application/tlsrpt+gzip or application/tlsrpt+json" }
    case "ReportUndecodable":
      return { status: 400, text: `not a report: ${failure.form} decoding failed` }
    case "ReportInvalid": {
      const first = failure.violations[0]
      return {
        status: 400,
        text: `invalid report: ${first ? `${first.path || "/"} ${first.message}` : "schema"}`,
      }
    }
    case "ReportMailUnusable":
      return { status: 400, text: "not a report" }
    case "ReportNotOurs":
      return { status: 403, text: `not a domain of ours: ${failure.domains.slice(0, 3).join(", ")}` }
    case "ReceivedReportsUnavailable":
      return { status: 503, text: "try again later" }
    default:
      return { status: 500, text: "internal error" }
  }
}

const pathOf = (url: string | undefined): string => (url ?? "").split("?")[0]!

type ReceiveBody = (body: Buffer, mediaType: string | undefined) => Promise<Answer>

const handle = (
  config: Required<Pick<InboundHttpsConfig, "path" | "limits" | "bodyTimeoutMs">>,
  receiveBody: ReceiveBody,
  request: IncomingMessage,
  response: ServerResponse,
): void => {
  let answered = false
  const reply = (answer: Answer, headers: Record<string, string> = {}, close = false) => {
    if (answered) return
    answered = true
    clearTimeout(deadline)
    response.writeHead(answer.status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(Buffer.byteLength(answer.text) + 1),
      ...(close ? { connection: "close" } : {}),
      ...headers,
    })
    // A request cut short leaves unread bytes on the connection: close it once the answer is out.
    if (close) response.once("finish", () => request.destroy())
    response.end(`${answer.text}\n`)
  }
  const deadline = setTimeout(
    () => reply({ status: 408, text: "body not received in time" }, {}, true),
    config.bodyTimeoutMs,
  )
  if (pathOf(request.url) !== config.path) return void reply({ status: 404, text: "not found" }, {}, true)
  if (request.method !== "POST") return void reply({ status: 405, text: "use POST" }, { allow: "POST" }, true)
  const mediaType = request.headers["content-type"]
  if (reportEncoding(mediaType) === undefined)
    return void reply(
      { status: 415, text: "use application/tlsrpt+gzip or application/tlsrpt+json" },
      {},
      true,
    )
  const limit = config.limits.maxBodyBytes
  const tooLarge = { status: 413, text: `report larger than ${limit} bytes (body)` }
  if (Number(request.headers["content-length"] ?? 0) > limit) return void reply(tooLarge, {}, true)
  const chunks: Array<Buffer> = []
  let size = 0
  request.on("data", (chunk: Buffer) => {
    if (answered) return
    size += chunk.length
    if (size > limit) return void reply(tooLarge, {}, true)
    chunks.push(chunk)
  })
  request.on("error", () => reply({ status: 400, text: "request failed" }, {}, true))
  request.on("end", () => {
    if (answered) return
    // The deadline is the sender's: storing is bounded by the Redis command timeout instead.
    clearTimeout(deadline)
    receiveBody(Buffer.concat(chunks), mediaType).then(
      (answer) => reply(answer),
      () => reply({ status: 500, text: "internal error" }),
    )
  })
}

const listen = (config: InboundHttpsConfig, onRequest: (req: IncomingMessage, res: ServerResponse) => void) =>
  Effect.async<Server, ReportEndpointFailed>((resume) => {
    let server: Server
    try {
      server = createServer({ cert: config.cert, key: config.key }, onRequest)
    } catch (e) {
      return resume(Effect.fail(new ReportEndpointFailed({ phase: "tls", detail: String(e) })))
    }
    server.once("error", (e: NodeJS.ErrnoException) =>
      resume(
        Effect.fail(
          new ReportEndpointFailed({
            phase: "listen",
            ...(e.code ? { code: e.code } : {}),
            detail: e.message,
          }),
        ),
      ),
    )
    server.listen(config.port, config.host, () => resume(Effect.succeed(server)))
  })

const close = (server: Server) =>
  Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

/** The endpoint, open while the scope is; returns the port it listens on. */
export const inboundHttpsServer = (
  config: InboundHttpsConfig,
): Effect.Effect<{ readonly port: number }, ReportEndpointFailed, Scope.Scope | ReceivedReports> =>
  Effect.gen(function* () {
    const settings = {
      path: config.path ?? "/tlsrpt",
      limits: config.limits ?? DEFAULT_LIMITS,
      bodyTimeoutMs: config.bodyTimeoutMs ?? 15_000,
    }
    const runPromiseExit = Runtime.runPromiseExit(yield* Effect.runtime<ReceivedReports>())
    const receiveBody: ReceiveBody = (body, mediaType) =>
      runPromiseExit(receiveHttpsReport(body, mediaType, settings.limits)).then(answerFor)
    const server = yield* Effect.acquireRelease(
      listen(config, (request, response) => handle(settings, receiveBody, request, response)),
      close,
    )
    const port = (server.address() as AddressInfo).port
    yield* Effect.logInfo("TLS report endpoint listening").pipe(
      Effect.annotateLogs({ host: config.host, port, path: settings.path }),
    )
    return { port }
  })

/** The endpoint as a layer: open while the layer's scope is. */
export const inboundHttpsLayer = (
  config: InboundHttpsConfig,
): Layer.Layer<never, ReportEndpointFailed, ReceivedReports> =>
  Layer.scopedDiscard(inboundHttpsServer(config))
