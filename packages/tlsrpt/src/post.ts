/**
 * A report to an `https:` rua (RFC 8460 §5.3): POST of the gzip body as `application/tlsrpt+gzip`;
 * any 2xx is success. The server's certificate is checked against the public roots (or `ca`, for
 * labs); no redirects are followed; connect and total time are bounded.
 */
import { request } from "node:https"
import { Effect } from "effect"
import { TlsReportNotDelivered } from "./errors"
import { GZIP_MEDIA_TYPE } from "./report"

export interface PostOptions {
  /** PEM roots replacing the public ones (tests and labs only). */
  readonly ca?: string
  readonly timeoutMs: number
}

export const postReport = (uri: string, gzip: Buffer, options: PostOptions) =>
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
