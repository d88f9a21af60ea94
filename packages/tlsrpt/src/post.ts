/**
 * A report to an `https:` rua (RFC 8460 §5.3): POST of the gzip body as `application/tlsrpt+gzip`;
 * any 2xx is success. The server's certificate is checked against the public roots (or `ca`, for
 * labs); no redirects are followed; the whole exchange is bounded in time. The host is resolved
 * first and only public addresses are used (`address.ts`), handed to the socket as resolved —
 * so a second answer (DNS rebinding) cannot move the POST into our network.
 */
import { lookup } from "node:dns/promises"
import { request } from "node:https"
import { Effect } from "effect"
import { isPublicAddress } from "./address"
import { TlsReportNotDelivered } from "./errors"
import { GZIP_MEDIA_TYPE } from "./report"

export interface PostOptions {
  /** PEM roots replacing the public ones (tests and labs only). */
  readonly ca?: string
  readonly timeoutMs: number
  /** Labs only: POST to loopback and private addresses too. */
  readonly allowPrivate?: boolean
}

/** The host's addresses that may be used, or why none may. */
const addressesFor = (uri: string, options: PostOptions) =>
  Effect.gen(function* () {
    const host = new URL(uri).hostname.replace(/^\[|\]$/g, "")
    const found = yield* Effect.tryPromise({
      try: () => lookup(host, { all: true, verbatim: true }),
      catch: (e) =>
        new TlsReportNotDelivered({
          rua: uri,
          form: "https-failed",
          detail: `cannot resolve ${host}: ${String(e)}`,
        }),
    })
    const usable = found.filter((a) => options.allowPrivate || isPublicAddress(a.address))
    if (usable.length === 0)
      return yield* new TlsReportNotDelivered({
        rua: uri,
        form: "https-refused-address",
        detail: `${host} resolves to ${found.map((a) => a.address).join(", ") || "nothing"}: not a public address`,
      })
    return usable
  })

export const postReport = (uri: string, gzip: Buffer, options: PostOptions) =>
  addressesFor(uri, options).pipe(
    Effect.flatMap((addresses) => send(uri, gzip, options, addresses)),
    Effect.timeoutFail({
      duration: options.timeoutMs,
      onTimeout: () =>
        new TlsReportNotDelivered({
          rua: uri,
          form: "https-failed",
          detail: `no answer within ${options.timeoutMs} ms`,
        }),
    }),
  )

const send = (
  uri: string,
  gzip: Buffer,
  options: PostOptions,
  addresses: ReadonlyArray<{ readonly address: string; readonly family: number }>,
) =>
  Effect.async<void, TlsReportNotDelivered>((resume, signal) => {
    const failed = (detail: string) =>
      resume(Effect.fail(new TlsReportNotDelivered({ rua: uri, form: "https-failed", detail })))
    const req = request(
      uri,
      {
        method: "POST",
        headers: { "content-type": GZIP_MEDIA_TYPE, "content-length": gzip.length },
        timeout: options.timeoutMs,
        signal,
        // The addresses checked above, never a second look-up.
        lookup: (_host, lookupOptions, callback) =>
          lookupOptions.all
            ? callback(null, [...addresses])
            : callback(null, addresses[0]!.address, addresses[0]!.family),
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (response) => {
        response.resume()
        const status = response.statusCode ?? 0
        if (status >= 200 && status < 300) resume(Effect.void)
        else
          resume(
            Effect.fail(
              new TlsReportNotDelivered({
                rua: uri,
                form: "https-status",
                status,
                detail: `${status} ${response.statusMessage ?? ""}`.trim(),
              }),
            ),
          )
      },
    )
    req.on("timeout", () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)))
    req.on("error", (e) => failed(e.message))
    req.end(gzip)
  })
