/**
 * `mailconnect trace`'s output: one table row per message and recipient (where it stands now),
 * a message's lines as a timeline with their TLS evidence (`--queue-id`), and the JSON document.
 * Pure renderers over the trace's records; nothing here reads Redis.
 */
import {
  type MessageSummary,
  type RecipientTrace,
  summarize,
  type TraceLine,
  type TraceSearchResult,
} from "@mailconnect/message-trace"

type LogTls = NonNullable<RecipientTrace["tls"]>

const time = (iso: string) => iso.replace(/\.\d{3}Z$/, "Z")
const sender = (s: string) => (s === "" ? "<>" : s)

const columns = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
}

const HEADER = ["TIME", "QUEUE-ID", "FROM", "TO", "STATUS", "CODE", "PARTNER", "TRIES", "MESSAGE-ID"]

const rowsOf = (m: MessageSummary): ReadonlyArray<ReadonlyArray<string>> =>
  (m.recipients.length === 0 ? [undefined] : m.recipients).map((r) => [
    time(r?.at ?? m.lastAt),
    m.queueId,
    sender(m.sender),
    r?.address ?? "-",
    r?.status ?? (m.dsns.length > 0 ? "dsn" : "-"),
    r?.code ?? "-",
    r?.partner ?? "-",
    String(r?.attempts ?? 0),
    m.messageId ?? "-",
  ])

export const renderTable = (result: TraceSearchResult): string => {
  if (result.records.length === 0) return "no messages match"
  const table = columns([HEADER, ...result.records.map(summarize).flatMap(rowsOf)])
  return result.complete
    ? table
    : `${table}\n(more may match: narrow the search or raise --limit; ${result.scanned} index entries looked at)`
}

export const tlsText = (tls: LogTls | null | undefined): string => {
  if (tls === undefined) return "no session"
  if (tls === null) return "plaintext"
  const v = tls.verification
  const verdict =
    v === undefined
      ? "not verified"
      : v.ok
        ? `verified${v.matchedName ? ` as ${v.matchedName}` : ""}${v.matchedPin ? ` pin ${v.matchedPin}` : ""}`
        : `verification failed: ${v.failure ?? v.findings.join(",")}`
  return [
    `${tls.protocol ?? "?"} ${tls.cipher}${tls.resumed ? " (resumed)" : ""}`,
    ...(tls.peer
      ? [
          `peer ${tls.peer.subject}, issuer ${tls.peer.issuer}, until ${tls.peer.notAfter}, ${tls.peer.spkiPin}`,
        ]
      : []),
    ...(tls.clientCertificate ? [`our certificate ${tls.clientCertificate}`] : []),
    verdict,
  ].join("; ")
}

const lineText = (line: TraceLine): ReadonlyArray<string> => {
  const head = `${time(line.at)}  ${line.relay}`
  switch (line.event) {
    case "session-in":
      return [
        `${head}  accepted on ${line.listener} from ${line.client.address} (${line.client.helo})${line.user ? ` user ${line.user}` : ""}${line.connector ? ` connector ${line.connector}` : ""}, ${line.size} bytes, ${line.tls ? `${line.tls.protocol} ${line.tls.cipher}` : "plaintext"}`,
        `    ${sender(line.sender)} → ${line.recipients.join(", ")}`,
      ]
    case "attempt":
      return [
        `${head}  attempt ${line.attempt} to ${line.domain}${line.partner ? ` (partner ${line.partner}` : " ("}${line.source ? `, source ${line.source}` : ""}, bundle ${line.bundleSerial}): ${line.result}${line.code ? ` ${line.code}` : ""}${line.server ? ` via ${line.server}` : ""}`,
        `    tls: ${tlsText(line.tls)}`,
        ...line.recipients.map(
          (r) => `    ${r.address}: ${r.outcome} ${r.status}${r.reply ? ` ${r.reply}` : ""}`,
        ),
        ...(line.nextAttemptAt ? [`    next attempt ${time(line.nextAttemptAt)}`] : []),
      ]
    case "dsn":
      return [
        `${head}  ${line.kind} DSN to ${sender(line.to)} queued as ${line.dsnQueueId}`,
        ...line.recipients.map((r) => `    ${r.address}: ${r.status}${r.code ? ` ${r.code}` : ""}`),
      ]
  }
}

/** One message's lines, oldest first. */
export const renderTimeline = (m: MessageSummary, lines: ReadonlyArray<TraceLine>): string =>
  [`message ${m.queueId}${m.messageId ? ` <${m.messageId}>` : ""}`, ...lines.flatMap(lineText)].join("\n")

export const renderJson = (result: TraceSearchResult): string =>
  JSON.stringify(
    {
      messages: result.records.map((r) => {
        const s = summarize(r)
        return {
          queueId: r.queueId,
          ...(s.messageId ? { messageId: s.messageId } : {}),
          sender: s.sender,
          firstAt: s.firstAt,
          lastAt: s.lastAt,
          recipients: s.recipients.map(({ tls: _tls, ...rest }) => rest),
          lines: r.lines,
        }
      }),
      complete: result.complete,
    },
    null,
    2,
  )
