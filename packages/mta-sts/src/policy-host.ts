/**
 * The serving side of RFC 8461 for our own domains: an HTTPS listener answering
 * `GET /.well-known/mta-sts.txt` with the policy of the domain the Host header names
 * (`mta-sts.<domain>`), as `text/plain`. Which text belongs to which Host is not decided here:
 * the `PublishedPolicies` port answers it (bound by the relay to the active bundle), so this
 * package never sees the policy model or the policy store.
 *
 * Trusts nothing in the request beyond the Host header and the path; answers 404 for anything it
 * does not serve and never follows another domain's policy. Touches only its own port and the
 * certificate and key it is given.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { createServer, type Server } from "node:https"
import { Context, Data, Effect, Layer, Runtime } from "effect"

const WELL_KNOWN_PATH = "/.well-known/mta-sts.txt"

export interface PublishedPoliciesShape {
  /** The policy text to serve for a request's Host header, or undefined (404). */
  readonly textFor: (host: string | undefined) => Effect.Effect<string | undefined>
}

/** Port: the policy texts we publish, by the Host a sender asked for. */
export class PublishedPolicies extends Context.Tag("@mailconnect/PublishedPolicies")<
  PublishedPolicies,
  PublishedPoliciesShape
>() {}

export interface PolicyHostConfig {
  readonly host: string
  readonly port: number
  /** PEM chain whose names cover every `mta-sts.<domain>` served. */
  readonly certPem: string
  readonly keyPem: string
}

/** The listener could not start (`listen`: port in use, bad address; `tls`: unusable cert or key). */
export class MtaStsPolicyHostFailed extends Data.TaggedError("MtaStsPolicyHostFailed")<{
  readonly phase: "tls" | "listen"
  readonly code?: string
  readonly detail: string
}> {}

const pathOf = (url: string | undefined): string => (url ?? "").split("?")[0]!

const answer = (
  respond: (host: string | undefined) => Promise<string | undefined>,
  request: IncomingMessage,
  response: ServerResponse,
): void => {
  const notFound = () => response.writeHead(404, { "content-type": "text/plain" }).end("not found\n")
  if ((request.method !== "GET" && request.method !== "HEAD") || pathOf(request.url) !== WELL_KNOWN_PATH)
    return void notFound()
  respond(request.headers.host).then(
    (text) => {
      if (text === undefined) return notFound()
      response.writeHead(200, {
        "content-type": "text/plain",
        "content-length": Buffer.byteLength(text),
        "cache-control": "no-cache",
      })
      response.end(request.method === "HEAD" ? undefined : text)
    },
    () => response.writeHead(500).end(),
  )
}

const listen = (
  config: PolicyHostConfig,
  respond: (host: string | undefined) => Promise<string | undefined>,
) =>
  Effect.async<Server, MtaStsPolicyHostFailed>((resume) => {
    let server: Server
    try {
      server = createServer({ cert: config.certPem, key: config.keyPem }, (req, res) =>
        answer(respond, req, res),
      )
    } catch (e) {
      return resume(Effect.fail(new MtaStsPolicyHostFailed({ phase: "tls", detail: String(e) })))
    }
    server.once("error", (e: NodeJS.ErrnoException) =>
      resume(
        Effect.fail(
          new MtaStsPolicyHostFailed({
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

/** The listener, open while the layer's scope is; closing the scope stops it. */
export const policyHostLayer = (
  config: PolicyHostConfig,
): Layer.Layer<never, MtaStsPolicyHostFailed, PublishedPolicies> =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const policies = yield* PublishedPolicies
      const runPromise = Runtime.runPromise(yield* Effect.runtime<never>())
      const respond = (host: string | undefined) => runPromise(policies.textFor(host))
      yield* Effect.acquireRelease(listen(config, respond), close)
      yield* Effect.logInfo("MTA-STS policy host listening").pipe(
        Effect.annotateLogs({ host: config.host, port: config.port }),
      )
    }),
  )
