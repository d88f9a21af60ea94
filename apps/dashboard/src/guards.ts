/**
 * Express middleware in front of every route, in this order: security headers (also on 401s),
 * HTTP Basic authentication (401 for anything else, static files included), a same-origin check
 * for state-changing requests (browsers resend Basic credentials cross-site, so a foreign page
 * must not be able to make an admin's browser retry or remove jobs), and the admin gate for
 * bull-board's API.
 */
import type { RequestHandler, Response } from "express"
import type { Account, Role } from "./config"
import { makeAuthenticator, parseBasic } from "./credentials"

export const REALM = "mailconnect dashboard"

/**
 * bull-board 9.10.1 draws the Redis logo as an inline SVG carrying a fixed `<style>` block; this
 * hash admits exactly that block and nothing else. The browser test fails on any CSP violation,
 * so a bull-board upgrade that changes it is noticed.
 */
const BULL_BOARD_REDIS_LOGO_STYLE = "'sha256-r2N1TB/gHbBtBZFKg7ejmq1acVSREzucTAEw6ga4hoU='"

/**
 * No inline script, no inline style but the one hashed above (bull-board's page is rewritten to
 * comply), nothing from other origins, no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'self' ${BULL_BOARD_REDIS_LOGO_STYLE}`,
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ")

const STATIC = /^\/(?:queues\/static|fonts|assets)\//

export const securityHeaders: RequestHandler = (req, res, next) => {
  res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY)
  res.setHeader("X-Content-Type-Options", "nosniff")
  res.setHeader("X-Frame-Options", "DENY")
  res.setHeader("Referrer-Policy", "no-referrer")
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin")
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin")
  // Queue contents (addresses, replies) must not linger in shared or disk caches.
  res.setHeader("Cache-Control", STATIC.test(req.path) ? "private, max-age=3600" : "no-store")
  next()
}

export const roleOf = (res: Response): Role => (res.locals.role === "admin" ? "admin" : "viewer")

export const requireCredentials = (accounts: ReadonlyArray<Account>): RequestHandler => {
  const authenticate = makeAuthenticator(accounts)
  return (req, res, next) => {
    const role = authenticate(parseBasic(req.headers.authorization))
    if (role === undefined) {
      res
        .status(401)
        .setHeader("WWW-Authenticate", `Basic realm="${REALM}", charset="UTF-8"`)
        .type("text/plain")
        .send("authentication required\n")
      return
    }
    res.locals.role = role
    next()
  }
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"])

/** Refuses state-changing requests that a browser marks as coming from another site or origin. */
export const sameOriginWrites: RequestHandler = (req, res, next) => {
  if (SAFE.has(req.method)) return next()
  const site = req.headers["sec-fetch-site"]
  const origin = req.headers.origin
  let foreign = site !== undefined && site !== "same-origin" && site !== "none"
  if (origin !== undefined) {
    try {
      foreign ||= new URL(origin).host !== req.headers.host
    } catch {
      foreign = true
    }
  }
  if (foreign) {
    res.status(403).json({ error: "cross-origin request refused" })
    return
  }
  next()
}

/** bull-board's API: viewers may read (GET), only admins may act (retry, promote, remove, …). */
export const adminForActions: RequestHandler = (req, res, next) => {
  if (SAFE.has(req.method) || roleOf(res) === "admin") return next()
  res.status(403).json({ error: "admin role required", role: roleOf(res) })
}
