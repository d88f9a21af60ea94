/**
 * Server-side HTML with escaping by default: every value interpolated into `html\`…\`` is
 * escaped unless it is itself the result of `html` (or an array of such). Relay ids, partner
 * names, SMTP replies and certificate subjects all come from outside; none may become markup.
 */

export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
}

export const escapeHtml = (text: string): string => text.replace(/[&<>"'`]/g, (c) => ENTITIES[c]!)

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | ReadonlyArray<HtmlValue>

const render = (value: HtmlValue): string => {
  if (value === null || value === undefined || value === false) return ""
  if (value instanceof SafeHtml) return value.text
  if (Array.isArray(value)) return value.map(render).join("")
  return escapeHtml(String(value))
}

export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<HtmlValue>): SafeHtml =>
  new SafeHtml(strings.reduce((out, s, i) => out + s + (i < values.length ? render(values[i]!) : ""), ""))

export type Tab = "queues" | "queue" | "fleet" | "policy" | "health" | "tlsrpt" | "trace"

const TABS: ReadonlyArray<readonly [Tab, string, string]> = [
  ["queues", "/queues", "Queues (bull-board)"],
  ["queue", "/queue", "Queue management"],
  ["fleet", "/fleet", "Fleet"],
  ["policy", "/policy", "Policy"],
  ["health", "/health", "TLS health"],
  ["tlsrpt", "/tlsrpt", "TLS reports"],
  ["trace", "/trace", "Message trace"],
]

/** The frame of our own pages: one external stylesheet, no scripts, no inline styles (CSP). */
export const page = (options: {
  readonly title: string
  readonly tab: Tab
  readonly role: string
  readonly generatedAt: number
  readonly body: SafeHtml
}): string =>
  `<!DOCTYPE html>\n${
    html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${options.title} · mailconnect</title>
<link rel="stylesheet" href="/fonts/ibm-plex-sans/400.css">
<link rel="stylesheet" href="/fonts/ibm-plex-sans/600.css">
<link rel="stylesheet" href="/fonts/ibm-plex-mono/400.css">
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<header>
<span class="brand">mailconnect</span>
<nav>${TABS.map(
      ([tab, href, label]) =>
        html`<a href="${href}"${tab === options.tab ? html` aria-current="page"` : ""}>${label}</a>`,
    )}</nav>
<span class="who">signed in as ${options.role}</span>
</header>
<main>
<h1>${options.title}</h1>
${options.body}
<p class="generated">Generated ${new Date(options.generatedAt).toISOString()}</p>
</main>
</body>
</html>
`.text
  }`

/** Whole seconds or minutes ago, for heartbeat ages. */
export const ago = (now: number, iso: string): string => {
  const ms = now - Date.parse(iso)
  if (!Number.isFinite(ms)) return "unknown"
  const s = Math.max(0, Math.round(ms / 1000))
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`
}
