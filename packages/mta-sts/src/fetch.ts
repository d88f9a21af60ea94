/**
 * One GET of `https://mta-sts.<domain>/.well-known/mta-sts.txt` by the rules of RFC 8461 §3.3:
 * PKIX validation against the public roots (or the configured CA), the policy host as SNI and as
 * the DNS-ID the certificate must carry (subjectAltName only, a wildcard only as a whole leftmost
 * label), no redirects, no HTTP cache, `text/plain`, a size limit, connect and total time limits.
 * The host's addresses come from our resolver, handed to the socket through `lookup`.
 */
import { X509Certificate } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { request } from "node:https"
import type { LookupFunction } from "node:net"
import type { PeerCertificate } from "node:tls"
import { Effect } from "effect"
import { MtaStsFetchFailed } from "./errors"

export interface FetchLimits {
  /** 443 in production; tests point it at their own server. */
  readonly port: number
  /** PEM certificates that replace the public roots; undefined: Node's bundled roots. */
  readonly ca: string | undefined
  readonly connectTimeoutMs: number
  readonly totalTimeoutMs: number
  readonly maxBytes: number
}

export const POLICY_PATH = "/.well-known/mta-sts.txt"

export const policyUrl = (domain: string, port: number): string =>
  `https://mta-sts.${domain}${port === 443 ? "" : `:${port}`}${POLICY_PATH}`

/** Hands the socket the addresses we resolved, so the system resolver is never asked. */
const fixedLookup =
  (addresses: ReadonlyArray<string>): LookupFunction =>
  (_hostname, options, callback) => {
    const entries = addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }))
    if (options.all) return callback(null, entries)
    const first = entries[0]!
    return callback(null, first.address, first.family)
  }

/** RFC 8461 §3.3 with RFC 6125: a DNS-ID for the policy host; the subject CN is never consulted. */
const checkPolicyHost = (hostname: string, cert: PeerCertificate): Error | undefined => {
  const matched = new X509Certificate(cert.raw).checkHost(hostname, {
    subject: "never",
    wildcards: true,
    partialWildcards: false,
    multiLabelWildcards: false,
    singleLabelSubdomains: false,
  })
  return matched === undefined
    ? Object.assign(new Error(`certificate has no DNS-ID for ${hostname}`), {
        code: "ERR_TLS_CERT_ALTNAME_INVALID",
      })
    : undefined
}

const mediaType = (response: IncomingMessage): string =>
  (response.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()

/** The body of the policy file as text, or why there is none. */
export const fetchPolicyText = (
  domain: string,
  addresses: ReadonlyArray<string>,
  limits: FetchLimits,
): Effect.Effect<string, MtaStsFetchFailed> => {
  const host = `mta-sts.${domain}`
  const url = policyUrl(domain, limits.port)
  type Failure = Omit<ConstructorParameters<typeof MtaStsFetchFailed>[0], "domain" | "url">
  if (addresses.length === 0)
    return Effect.fail(new MtaStsFetchFailed({ domain, url, form: "dns", detail: `${host} has no address` }))
  return Effect.async<string, MtaStsFetchFailed>((resume) => {
    // How far the exchange got decides what an error event means: no TCP yet, no TLS yet, or later.
    let stage: "connect" | "tls" | "response" = "connect"
    let settled = false
    const timers: Array<NodeJS.Timeout> = []
    const stop = () => {
      settled = true
      for (const timer of timers) clearTimeout(timer)
      req.destroy()
    }
    const finish = (outcome: { readonly text: string } | Failure) => {
      if (settled) return
      stop()
      resume(
        "text" in outcome
          ? Effect.succeed(outcome.text)
          : Effect.fail(new MtaStsFetchFailed({ domain, url, ...outcome })),
      )
    }
    const req = request({
      host,
      port: limits.port,
      path: POLICY_PATH,
      method: "GET",
      servername: host,
      headers: {
        host: limits.port === 443 ? host : `${host}:${limits.port}`,
        accept: "text/plain",
        "cache-control": "no-cache",
      },
      // A fresh connection each time: nothing verified under other options is ever reused.
      agent: false,
      rejectUnauthorized: true,
      ...(limits.ca === undefined ? {} : { ca: limits.ca }),
      checkServerIdentity: checkPolicyHost,
      lookup: fixedLookup(addresses),
    })
    timers.push(
      setTimeout(() => {
        if (stage !== "response")
          finish({
            form: "timeout",
            timeout: "connect",
            detail: `no TLS session in ${limits.connectTimeoutMs} ms`,
          })
      }, limits.connectTimeoutMs),
      setTimeout(
        () =>
          finish({ form: "timeout", timeout: "total", detail: `no policy in ${limits.totalTimeoutMs} ms` }),
        limits.totalTimeoutMs,
      ),
    )
    req.on("socket", (socket) => {
      socket.once("connect", () => {
        if (stage === "connect") stage = "tls"
      })
      socket.once("secureConnect", () => {
        stage = "response"
      })
    })
    req.on("error", (error: NodeJS.ErrnoException) => {
      const code = error.code === undefined ? {} : { code: error.code }
      const form = stage === "connect" ? "connect" : stage === "tls" ? "tls" : "truncated"
      finish({ form, ...code, detail: error.message })
    })
    req.on("response", (response) => {
      const status = response.statusCode ?? 0
      if (status >= 300 && status < 400) {
        const location = response.headers.location ?? ""
        return finish({ form: "redirect", status, detail: `${status} to ${location} (not followed)` })
      }
      if (status !== 200) return finish({ form: "http-status", status, detail: `status ${status}` })
      const type = mediaType(response)
      if (type !== "text/plain")
        return finish({ form: "content-type", status, detail: `content-type ${JSON.stringify(type)}` })
      const declared = Number(response.headers["content-length"] ?? 0)
      if (declared > limits.maxBytes)
        return finish({
          form: "too-large",
          status,
          detail: `content-length ${declared} > ${limits.maxBytes}`,
        })
      const chunks: Array<Buffer> = []
      let size = 0
      response.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size > limits.maxBytes)
          return finish({ form: "too-large", status, detail: `body over ${limits.maxBytes} bytes` })
        chunks.push(chunk)
      })
      response.on("end", () => finish({ text: Buffer.concat(chunks).toString("utf8") }))
      response.on("close", () => {
        if (!response.complete) finish({ form: "truncated", status, detail: "connection closed mid-body" })
      })
    })
    req.end()
    return Effect.sync(stop)
  })
}
