/**
 * The dashboard's pure parts: Basic parsing and constant-time account matching, configuration
 * refusals, bull-board page rewriting, HTML escaping, and the fleet/policy classifications.
 */
import type { RelayHeartbeat } from "@mailconnect/fleet"
import type { Partner } from "@mailconnect/policy"
import { ConfigProvider, Effect, Either, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import {
  type Account,
  dashboardConfig,
  escapeHtml,
  fleetStatus,
  html,
  makeAuthenticator,
  parseBasic,
  partnerRow,
  rewriteBoardPage,
} from "../src"

const accounts: ReadonlyArray<Account> = [
  { user: "operator", password: Redacted.make("pw-viewer"), role: "viewer" },
  { user: "mailadmin", password: Redacted.make("pw:admin"), role: "admin" },
]

describe("credentials", () => {
  const authenticate = makeAuthenticator(accounts)
  const header = (text: string) => `Basic ${Buffer.from(text).toString("base64")}`

  it("maps each account to its role; a password may contain ':'", () => {
    expect(authenticate(parseBasic(header("operator:pw-viewer")))).toBe("viewer")
    expect(authenticate(parseBasic(header("mailadmin:pw:admin")))).toBe("admin")
  })

  it("refuses wrong, crossed, empty and malformed credentials", () => {
    for (const text of ["operator:pw", "operator:pw:admin", "mailadmin:pw-viewer", ":", "operator", ""])
      expect(authenticate(parseBasic(header(text)))).toBeUndefined()
    expect(authenticate(parseBasic(undefined))).toBeUndefined()
    expect(parseBasic("Bearer abc")).toBeUndefined()
    expect(parseBasic("Basic ***")).toBeUndefined()
  })
})

describe("configuration", () => {
  const full = {
    DASHBOARD_USER: "operator",
    DASHBOARD_PASSWORD: "a",
    DASHBOARD_ADMIN_USER: "mailadmin",
    DASHBOARD_ADMIN_PASSWORD: "b",
    MAILCONNECT_TRUSTED_KEYS: "/k.pub",
  }
  const load = (env: Record<string, string>) =>
    Effect.runSync(
      Effect.either(
        Effect.withConfigProvider(dashboardConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))),
      ),
    )

  it("defaults to loopback and port 9590", () => {
    const config = Either.getOrThrow(load(full))
    expect([config.host, config.port]).toEqual(["127.0.0.1", 9590])
    expect(config.accounts.map((a) => [a.user, a.role])).toEqual([
      ["operator", "viewer"],
      ["mailadmin", "admin"],
    ])
  })

  it("refuses to start without any one credential, with an empty password, or one name for both", () => {
    for (const missing of [
      "DASHBOARD_USER",
      "DASHBOARD_PASSWORD",
      "DASHBOARD_ADMIN_USER",
      "DASHBOARD_ADMIN_PASSWORD",
    ]) {
      const env: Record<string, string> = { ...full }
      delete env[missing]
      const result = load(env)
      expect(Either.isLeft(result) && String(result.left)).toContain(missing)
    }
    expect(Either.isLeft(load({ ...full, DASHBOARD_PASSWORD: "" }))).toBe(true)
    expect(Either.isLeft(load({ ...full, DASHBOARD_ADMIN_USER: "operator" }))).toBe(true)
    expect(Either.isLeft(load({ ...full, DASHBOARD_USER: "a:b" }))).toBe(true)
  })
})

describe("bull-board page rewriting", () => {
  const original = `<head>
<link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans" rel="stylesheet">
<link href="static/css/main.css" rel="stylesheet"></head>
<body><div id="root">
  <div style="display:flex">Loading</div>
  <style>@keyframes bb-pulse{}</style>
</div><script defer src="static/js/main.js"></script></body>`

  it("drops external links and the inline-styled placeholder, adds the local fonts", () => {
    const page = rewriteBoardPage(original)
    expect(page).not.toContain("googleapis")
    expect(page).not.toMatch(/style=|<style/)
    expect(page).toContain('<div id="root"></div>')
    expect(page).toContain('<link href="static/css/main.css" rel="stylesheet">')
    expect(page).toContain('<link href="/fonts/ibm-plex-sans/400.css" rel="stylesheet">')
  })
})

describe("html", () => {
  it("escapes interpolated values but not nested templates", () => {
    const name = `<script>alert("x")</script>`
    expect(html`<td title="${name}">${name}</td>`.text).toBe(
      `<td title="${escapeHtml(name)}">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td>`,
    )
    expect(html`<ul>${["a&b", html`<li>ok</li>`]}</ul>`.text).toBe("<ul>a&amp;b<li>ok</li></ul>")
  })
})

const beat = (relayId: string, serial: number | undefined): RelayHeartbeat => ({
  relayId,
  version: "0.1.0",
  hostname: "h",
  pid: 1,
  roles: ["delivery"],
  bundle: serial === undefined ? null : { serial, digest: "sha256:x", schema: 1 },
  supportedSchemas: [1],
  draining: false,
  startedAt: "2026-11-28T00:00:00Z",
  updatedAt: "2026-11-28T00:00:00Z",
})

describe("fleet convergence", () => {
  const pointer = { serial: 5, publishedAt: "2026-11-28T00:00:00Z" }
  it("has converged only when every live relay runs the published serial", () => {
    expect(fleetStatus({ relays: [beat("a", 5), beat("b", 5)], unreadable: [], pointer }).converged).toBe(
      true,
    )
    const split = fleetStatus({
      relays: [beat("a", 5), beat("b", 4), beat("c", undefined)],
      unreadable: [],
      pointer,
    })
    expect([split.converged, split.behind]).toEqual([false, ["b", "c"]])
    expect(fleetStatus({ relays: [], unreadable: [], pointer }).converged).toBe(false)
    expect(fleetStatus({ relays: [beat("a", 5)], unreadable: [], pointer: undefined }).converged).toBe(false)
  })
})

describe("policy dates", () => {
  const now = Date.parse("2026-11-28T12:00:00Z")
  const partner = (dueOn: string, notAfter: string): Partner => ({
    name: "p",
    domains: ["p.example"],
    tls: {
      mode: "enforce",
      minVersion: "TLSv1.2",
      verify: {
        trust: "pkix",
        names: [],
        pins: [],
        ca: { file: "certs/p.pem", pem: "", sha256: "", notAfter },
      },
      review: { attestedOn: "2025-01-01", every: 1, dueOn },
    },
    inbound: { requireTls: false, requireClientCertificate: false },
    retry: { schedule: [], every: 1, warnAfter: 1, expireAfter: 2 },
    groups: [],
  })

  it("marks a review overdue from the day after it is due, and soon within 30 days", () => {
    expect(partnerRow(partner("2026-11-27", "2030-01-01T00:00:00Z"), now).review.state).toBe("overdue")
    expect(partnerRow(partner("2026-11-28", "2030-01-01T00:00:00Z"), now).review.state).toBe("soon")
    expect(partnerRow(partner("2027-06-01", "2030-01-01T00:00:00Z"), now).review.state).toBe("ok")
  })

  it("marks certificates expired, expiring within 30 days, or fine", () => {
    expect(partnerRow(partner("2027-06-01", "2026-11-01T00:00:00Z"), now).caExpiry.state).toBe("overdue")
    expect(partnerRow(partner("2027-06-01", "2026-12-20T00:00:00Z"), now).caExpiry.state).toBe("soon")
    expect(partnerRow(partner("2027-06-01", "2028-01-01T00:00:00Z"), now).caExpiry.state).toBe("ok")
    expect(partnerRow(partner("2027-06-01", "2028-01-01T00:00:00Z"), now).certificateExpiry.state).toBe(
      "none",
    )
  })
})
