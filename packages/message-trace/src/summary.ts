/**
 * A trace record read as an operator reads it: per recipient, where it stands now (its newest
 * attempt), with the partner, code, server and TLS of that attempt. Pure; the CLI and the
 * dashboard render it. The lines themselves stay the record (`--json`, the page's attempts).
 */
import type { AttemptLine, DsnLine, LogTls, SessionInLine } from "@mailconnect/delivery-log"
import type { TraceLine, TraceRecord } from "./trace-index"

export type RecipientStatus = "queued" | "delivered" | "deferred" | "bounced"

export interface RecipientTrace {
  readonly address: string
  readonly status: RecipientStatus
  /** Attempts that tried this recipient. */
  readonly attempts: number
  readonly partner?: string
  readonly code?: string
  readonly reply?: string
  readonly server?: string
  readonly tls?: LogTls | null
  readonly at: string
}

export interface MessageSummary {
  readonly queueId: string
  readonly messageId?: string
  readonly sender: string
  /** The first line's time (the session-in when the trace has it). */
  readonly firstAt: string
  readonly lastAt: string
  readonly sessionIn?: SessionInLine & { readonly relay: string }
  readonly recipients: ReadonlyArray<RecipientTrace>
  readonly attempts: ReadonlyArray<AttemptLine & { readonly relay: string }>
  readonly dsns: ReadonlyArray<DsnLine & { readonly relay: string }>
}

type Of<E extends TraceLine["event"]> = Extract<TraceLine, { readonly event: E }>

export const summarize = (record: TraceRecord): MessageSummary => {
  const lines = [...record.lines].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
  const sessionIn = lines.find((l): l is Of<"session-in"> => l.event === "session-in")
  const attempts = lines.filter((l): l is Of<"attempt"> => l.event === "attempt")
  const dsns = lines.filter((l): l is Of<"dsn"> => l.event === "dsn")
  const recipients = new Map<string, RecipientTrace>()
  for (const address of sessionIn?.recipients ?? [])
    recipients.set(address, { address, status: "queued", attempts: 0, at: sessionIn!.at })
  for (const a of attempts)
    for (const r of a.recipients) {
      const before = recipients.get(r.address)
      recipients.set(r.address, {
        address: r.address,
        status: r.outcome,
        attempts: (before?.attempts ?? 0) + 1,
        ...(a.partner ? { partner: a.partner } : {}),
        ...(r.outcome !== "delivered" && a.code ? { code: a.code } : {}),
        ...(r.reply ? { reply: r.reply } : {}),
        ...(a.server ? { server: a.server } : {}),
        ...(a.tls === undefined ? {} : { tls: a.tls }),
        at: a.at,
      })
    }
  const messageId = sessionIn?.messageId ?? attempts.find((a) => a.messageId)?.messageId
  return {
    queueId: record.queueId,
    ...(messageId ? { messageId } : {}),
    sender: sessionIn?.sender ?? attempts[0]?.sender ?? "",
    firstAt: lines[0]?.at ?? "",
    lastAt: lines.at(-1)?.at ?? "",
    ...(sessionIn ? { sessionIn } : {}),
    recipients: [...recipients.values()],
    attempts,
    dsns,
  }
}
