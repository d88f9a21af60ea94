/**
 * bull-board over the `delivery` queue — one entry per shard (`delivery` for shard 0, the only
 * one of an unsharded fleet; `shard1-delivery`… after it) — twice: a read-only board for viewers
 * and a full board for admins, both at `/queues`; the request's role picks one. The read-only board hides the
 * action buttons and bull-board refuses actions on its queues (405); the server-side guard in
 * `guards.ts` answers 403 before either board sees a non-admin's non-GET request anyway.
 *
 * bull-board's page loads IBM Plex from Google Fonts. That breaks the CSP and leaks every page
 * view to a third party on connected hosts, and stalls on air-gapped ones, so the rendered page
 * is rewritten: external `<link>`s are dropped in favour of the same fonts served from
 * `/fonts` (the @fontsource packages), and the inline-styled loading placeholder is removed so
 * `style-src 'self'` holds.
 */
import { createBullBoard } from "@bull-board/api"
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter"
import { ExpressAdapter } from "@bull-board/express"
import type { Queue } from "bullmq"
import type { Express, RequestHandler } from "express"
import type { Role } from "./config"

export const BOARD_PATH = "/queues"

export const FONT_LINKS = [
  "/fonts/ibm-plex-sans/400.css",
  "/fonts/ibm-plex-sans/500.css",
  "/fonts/ibm-plex-sans/600.css",
  "/fonts/ibm-plex-mono/400.css",
  "/fonts/ibm-plex-mono/500.css",
]

/** Makes bull-board's entry page self-contained (see the header). Exported for its test. */
export const rewriteBoardPage = (page: string): string => {
  const withoutExternal = page.replace(/<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>\s*/gi, "")
  const withoutPlaceholder = withoutExternal.replace(
    /<div id="root">[\s\S]*?<\/style>\s*<\/div>/,
    '<div id="root"></div>',
  )
  const fonts = FONT_LINKS.map((href) => `<link href="${href}" rel="stylesheet">`).join("")
  return withoutPlaceholder.replace("</head>", `${fonts}</head>`)
}

type RenderCallback = (error: Error | null, html?: string) => void
type Engine = (path: string, options: object, callback: RenderCallback) => void

/** Wraps the view engine bull-board registered on its Express app so every render is rewritten. */
const rewriteRenders = (app: Express) => {
  const engines = (app as unknown as { engines?: Record<string, Engine> }).engines
  const original = engines?.[".ejs"]
  // A bull-board release that renders differently must fail loudly, not ship Google Fonts.
  if (!original) throw new Error("bull-board no longer registers an .ejs engine; revisit bull-board.ts")
  app.engine("ejs", (path, options, callback) =>
    original(path, options, (error, html) =>
      error ? callback(error) : callback(null, rewriteBoardPage(html ?? "")),
    ),
  )
}

/** bull-board's name for shard `shard`'s queue (all of them are BullMQ's `delivery`, under other tags). */
export const boardQueueName = (shard: number): string => (shard === 0 ? "delivery" : `shard${shard}-delivery`)

const board = (queues: ReadonlyArray<Queue>, role: Role): RequestHandler => {
  const adapter = new ExpressAdapter().setBasePath(BOARD_PATH)
  const readOnly = role !== "admin"
  createBullBoard({
    queues: queues.map(
      (queue, shard) =>
        new BullMQAdapter(queue, {
          readOnlyMode: readOnly,
          allowRetries: !readOnly,
          ...(shard === 0 ? {} : { prefix: `shard${shard}-` }),
          description:
            queues.length === 1
              ? "one job per (message, recipient domain); name = <domain> <partner> <message id>"
              : `shard ${shard} of ${queues.length}: one job per (message, recipient domain); name = <domain> <partner> <message id>`,
        }),
    ),
    serverAdapter: adapter,
    options: {
      uiConfig: {
        boardTitle: "mailconnect queues",
        hideDocsLink: true,
        miscLinks: [
          { text: "Fleet", url: "/fleet" },
          { text: "Policy", url: "/policy" },
          { text: "TLS health", url: "/health" },
        ],
        environment: readOnly
          ? { label: "read-only", color: "#3d4a5c", textColor: "#ffffff" }
          : { label: "admin", color: "#b3261e", textColor: "#ffffff" },
      },
    },
  })
  const app = adapter.getRouter() as Express
  rewriteRenders(app)
  return app
}

/** One handler for `/queues`: the admin board for admins, the read-only board otherwise. */
export const bullBoardByRole = (
  queues: ReadonlyArray<Queue>,
  roleOf: (res: Parameters<RequestHandler>[1]) => Role,
) => {
  const viewer = board(queues, "viewer")
  const admin = board(queues, "admin")
  const handler: RequestHandler = (req, res, next) =>
    roleOf(res) === "admin" ? admin(req, res, next) : viewer(req, res, next)
  return handler
}
