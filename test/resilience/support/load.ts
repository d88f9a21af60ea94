/**
 * Steady SMTP load with bookkeeping: every message carries a unique `X-MC-Load-Id` header, the
 * sender records which ones got a 250, and the tally matches them against what the partner
 * servers received. "Lost" is an accepted message never delivered; "duplicated" is a message
 * delivered more than once; "unacknowledged but delivered" is fine (the client saw no 250 and
 * would resend — at-least-once from the sender's side).
 */

import { PASSWORD, type SmtpRelay } from "@mailconnect/test-support"
import nodemailer from "nodemailer"

export const LOAD_HEADER = "X-MC-Load-Id"

/**
 * One message per connection to a test relay's submission port (STARTTLS + AUTH as alice), with
 * timeouts that end a send to a stalled relay instead of hanging the run.
 */
export const submissionTransport = (relay: Pick<SmtpRelay, "submissionPort">, relayCa: string) =>
  nodemailer.createTransport({
    host: "127.0.0.1",
    port: relay.submissionPort,
    requireTLS: true,
    tls: { ca: relayCa, servername: "relay.test" },
    auth: { user: "alice", pass: PASSWORD },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  })

export interface SendResult {
  readonly id: string
  readonly accepted: boolean
  readonly reply: string
  /** From connect to the final reply (or the error). */
  readonly ms: number
}

export interface LoadRun {
  readonly results: ReadonlyArray<SendResult>
  readonly accepted: ReadonlyArray<string>
}

export interface LoadOptions {
  /** Where to send; read on every message, so a test can swap in a restarted relay. */
  readonly relay: () => SmtpRelay
  readonly relayCa: string
  readonly tag: string
  readonly count: number
  readonly intervalMs: number
  readonly to: (index: number) => ReadonlyArray<string>
  /** Called before message `index` is sent: the hook fault scenarios inject faults from. */
  readonly before?: (index: number) => Promise<void> | void
  readonly bodyBytes?: number
}

const loadId = (tag: string, index: number) => `${tag}-${String(index).padStart(4, "0")}`

/**
 * Sends `count` messages one after another over STARTTLS + AUTH on the submission port, a fresh
 * connection each (a crash affects one session, as with real mail programs), bounded by a per
 * message socket timeout.
 */
export const sendSteadily = async (options: LoadOptions): Promise<LoadRun> => {
  const results: Array<SendResult> = []
  for (let i = 0; i < options.count; i++) {
    await options.before?.(i)
    const id = loadId(options.tag, i)
    const relay = options.relay()
    const to = options.to(i)
    const startedAt = Date.now()
    const transport = submissionTransport(relay, options.relayCa)
    try {
      const info = await transport.sendMail({
        envelope: { from: "alice@customer.example", to: [...to] },
        raw: [
          "From: alice@customer.example",
          `To: ${to.join(", ")}`,
          `Subject: load ${id}`,
          `${LOAD_HEADER}: ${id}`,
          "",
          "x".repeat(options.bodyBytes ?? 1_000),
          "",
        ].join("\r\n"),
      })
      results.push({
        id,
        accepted: /^250[ -]/.test(info.response),
        reply: info.response,
        ms: Date.now() - startedAt,
      })
    } catch (e) {
      const error = e as { response?: string; message: string }
      results.push({
        id,
        accepted: false,
        reply: error.response ?? error.message,
        ms: Date.now() - startedAt,
      })
    } finally {
      transport.close()
    }
    if (options.intervalMs > 0) await new Promise((r) => setTimeout(r, options.intervalMs))
  }
  return { results, accepted: results.filter((r) => r.accepted).map((r) => r.id) }
}

export interface Received {
  readonly mailFrom: string
  readonly body: Buffer | undefined
}

/**
 * Load ids in received messages, one entry per delivery (a duplicate appears twice). DSNs (null
 * sender) quote the original headers and are not deliveries of the message itself.
 */
export const loadIdsIn = (received: ReadonlyArray<Received>, tag: string): Array<string> => {
  const pattern = new RegExp(`^${LOAD_HEADER}: (${tag}-\\d{4})\\r?$`, "m")
  const ids: Array<string> = []
  for (const { mailFrom, body } of received) {
    if (mailFrom === "") continue
    const match = body ? pattern.exec(body.toString("latin1")) : null
    if (match) ids.push(match[1]!)
  }
  return ids
}

export interface Figures {
  readonly scenario: string
  readonly sent: number
  readonly accepted: number
  readonly refused: number
  readonly delivered: number
  readonly lost: number
  readonly duplicated: number
  /** Delivered although the client never saw a 250 (stored, reply lost): allowed. */
  readonly deliveredUnacknowledged: number
  readonly notes?: string
}

export const tally = (
  scenario: string,
  run: LoadRun,
  deliveries: ReadonlyArray<string>,
  notes?: string,
): Figures => {
  const counts = new Map<string, number>()
  for (const id of deliveries) counts.set(id, (counts.get(id) ?? 0) + 1)
  const accepted = new Set(run.accepted)
  return {
    scenario,
    sent: run.results.length,
    accepted: accepted.size,
    refused: run.results.length - accepted.size,
    delivered: [...accepted].filter((id) => counts.has(id)).length,
    lost: [...accepted].filter((id) => !counts.has(id)).length,
    duplicated: [...counts.values()].reduce((sum, n) => sum + (n - 1), 0),
    deliveredUnacknowledged: [...counts.keys()].filter((id) => !accepted.has(id)).length,
    ...(notes === undefined ? {} : { notes }),
  }
}

/** One greppable line per scenario in the test output: `FAULT-FIGURES {json}`. */
export const printFigures = (figures: Figures) => {
  console.log(`FAULT-FIGURES ${JSON.stringify(figures)}`)
}

/** The slowest session, e.g. one that waited on Redis until it got its 451. */
export const slowestMs = (run: LoadRun): number => Math.max(0, ...run.results.map((r) => r.ms))

/** The refusal replies seen, grouped (e.g. how many 451 4.3.0 while Redis was away). */
export const refusalSummary = (run: LoadRun): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const r of run.results) {
    if (r.accepted) continue
    const key = /^\d{3}(?: \d\.\d\.\d)?/.exec(r.reply)?.[0] ?? r.reply.slice(0, 40)
    out[key] = (out[key] ?? 0) + 1
  }
  return out
}
