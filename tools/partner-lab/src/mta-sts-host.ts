/**
 * An MTA-STS policy host on loopback (RFC 8461 §3.3): a DNS server (TXT `_mta-sts.<domain>`, A
 * `mta-sts.<domain>`) and one HTTPS server answering for every `mta-sts.<domain>` with a
 * certificate per name from a test CA (or from an untrusted one, or for the wrong name),
 * counting the requests it gets. Each scenario publishes its own domain.
 */
import { randomBytes } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { createServer, type Server } from "node:https"
import type { AddressInfo } from "node:net"
import { createSecureContext, type SecureContext } from "node:tls"
import { type CertificateAuthority, createRootCa } from "@mailconnect/test-pki"
import { type LabDns, startLabDns } from "./dns-server"

/** What the policy URL answers; the default is a 200 `text/plain` with the policy text. */
export interface Served {
  readonly status?: number
  readonly contentType?: string
  readonly body?: string
  readonly headers?: Readonly<Record<string, string>>
  /** Accept the request and never answer. */
  readonly hang?: boolean
  /** Send the body in 1 KiB chunks without a Content-Length. */
  readonly chunked?: boolean
}

export interface Publication {
  /** The TXT id; `null`: no TXT record at all. */
  readonly id?: string | null
  /** Extra TXT records beside the STSv1 one, or instead of it when `id` is null. */
  readonly extraTxt?: ReadonlyArray<string | ReadonlyArray<string>>
  readonly served?: Served
  readonly policy?: Partial<PolicyFields>
  /** `untrusted`: issued by a CA the relay does not trust; `wrong-name`: for another host. */
  readonly certificate?: "trusted" | "untrusted" | "wrong-name"
}

export interface PolicyFields {
  readonly version: string
  readonly mode: string
  readonly mx: ReadonlyArray<string>
  readonly max_age: string
}

/** The happy-path policy of a domain: enforce, its own MX and a one-label wildcard, one day. */
export const defaultFields = (domain: string): PolicyFields => ({
  version: "STSv1",
  mode: "enforce",
  mx: [`mx1.${domain}`, `*.mx.${domain}`],
  max_age: "86400",
})

export const policyText = (fields: PolicyFields): string =>
  [
    `version: ${fields.version}`,
    `mode: ${fields.mode}`,
    ...fields.mx.map((mx) => `mx: ${mx}`),
    `max_age: ${fields.max_age}`,
    "",
  ].join("\r\n")

export interface MtaStsHost {
  readonly dns: LabDns
  readonly port: number
  readonly ca: string
  /** A fresh domain name for one scenario. */
  readonly domain: (label: string) => string
  readonly publish: (domain: string, publication?: Publication) => Promise<void>
  /** HTTP requests the policy host of `domain` received (a failed handshake sends none). */
  readonly requests: (domain: string) => number
  readonly stop: () => Promise<void>
}

export const startMtaStsHost = async (): Promise<MtaStsHost> => {
  const [root, rogue, dns] = await Promise.all([
    createRootCa({ commonName: "mta-sts lab root" }),
    createRootCa({ commonName: "untrusted root" }),
    startLabDns(),
  ])
  const contexts = new Map<string, SecureContext>()
  const served = new Map<string, Served>()
  const counts = new Map<string, number>()
  const issue = async (authority: CertificateAuthority, names: ReadonlyArray<string>) => {
    const leaf = await authority.issueServer({ names })
    return createSecureContext({ cert: leaf.chainPem, key: leaf.keyPem })
  }
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const host = (request.headers.host ?? "").replace(/:\d+$/, "").toLowerCase()
    counts.set(host, (counts.get(host) ?? 0) + 1)
    const answer = served.get(host)
    if (!answer || request.url !== "/.well-known/mta-sts.txt") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n")
      return
    }
    if (answer.hang) return
    response.writeHead(answer.status ?? 200, {
      "content-type": answer.contentType ?? "text/plain; charset=utf-8",
      ...answer.headers,
    })
    const body = Buffer.from(answer.body ?? "")
    if (!answer.chunked) return void response.end(body)
    for (let at = 0; at < body.length; at += 1024) response.write(body.subarray(at, at + 1024))
    response.end()
  }
  const server: Server = createServer(
    { SNICallback: (name, callback) => callback(null, contexts.get(name.toLowerCase())) },
    handler,
  )
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  let counter = 0
  return {
    dns,
    port,
    ca: root.certPem,
    domain: (label) => `${label}-${++counter}-${randomBytes(3).toString("hex")}.test`,
    publish: async (domain, publication = {}) => {
      const host = `mta-sts.${domain}`
      const id = publication.id === undefined ? "20260301T000000" : publication.id
      const txt = [...(id === null ? [] : [`v=STSv1; id=${id};`]), ...(publication.extraTxt ?? [])]
      if (txt.length > 0)
        dns.set(
          `_mta-sts.${domain}`,
          txt.map((data) => ({ type: "TXT", data })),
        )
      else dns.remove(`_mta-sts.${domain}`)
      dns.set(host, [{ type: "A", address: "127.0.0.1" }])
      const certificate = publication.certificate ?? "trusted"
      contexts.set(
        host,
        await (certificate === "untrusted"
          ? issue(rogue, [host])
          : certificate === "wrong-name"
            ? issue(root, [`www.${domain}`])
            : issue(root, [host])),
      )
      served.set(host, {
        body: policyText({ ...defaultFields(domain), ...publication.policy }),
        ...publication.served,
      })
    },
    requests: (domain) => counts.get(`mta-sts.${domain}`) ?? 0,
    stop: async () => {
      server.closeAllConnections()
      await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), dns.stop()])
    },
  }
}
