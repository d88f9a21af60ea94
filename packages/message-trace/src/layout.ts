/**
 * Which index entries a delivery-log line makes, and which index sets a search reads: pure, so
 * the key layout (docs/message-trace.md) is one function each way. Addresses and domains are
 * indexed lower-cased (the envelope is already in A-label form), failure codes upper-cased,
 * Message-IDs as written; the null sender is `<>`.
 */
import type { DeliveryLogLine } from "@mailconnect/delivery-log"

/** The searchable dimensions, each a family of sorted sets `trace:<dimension>:<value>`. */
export type Dimension = "from" | "from-domain" | "to" | "to-domain" | "message-id" | "partner" | "code"

export interface IndexEntry {
  readonly dimension: Dimension
  readonly value: string
}

export const NULL_SENDER = "<>"

const lower = (text: string) => text.trim().toLowerCase()
const domainOf = (address: string): string | undefined => {
  const at = address.lastIndexOf("@")
  return at < 0 ? undefined : lower(address.slice(at + 1))
}

const senderEntries = (sender: string): ReadonlyArray<IndexEntry> => {
  if (sender === "") return [{ dimension: "from", value: NULL_SENDER }]
  const domain = domainOf(sender)
  return [
    { dimension: "from", value: lower(sender) },
    ...(domain ? [{ dimension: "from-domain" as const, value: domain }] : []),
  ]
}

const recipientEntries = (address: string): ReadonlyArray<IndexEntry> => {
  const domain = domainOf(address)
  return [
    { dimension: "to", value: lower(address) },
    ...(domain ? [{ dimension: "to-domain" as const, value: domain }] : []),
  ]
}

/** Distinct entries, in a stable order. */
const distinct = (entries: ReadonlyArray<IndexEntry>): ReadonlyArray<IndexEntry> => {
  const seen = new Map<string, IndexEntry>()
  for (const e of entries) seen.set(`${e.dimension}\u0000${e.value}`, e)
  return [...seen.values()]
}

/** The index entries of one line (besides the all-messages set every line touches). */
export const entriesOf = (line: DeliveryLogLine): ReadonlyArray<IndexEntry> => {
  switch (line.event) {
    case "session-in":
      return distinct([
        ...senderEntries(line.sender),
        ...line.recipients.flatMap(recipientEntries),
        ...(line.messageId ? [{ dimension: "message-id" as const, value: line.messageId }] : []),
      ])
    case "attempt":
      return distinct([
        ...senderEntries(line.sender),
        ...line.recipients.flatMap((r) => recipientEntries(r.address)),
        { dimension: "to-domain", value: lower(line.domain) },
        ...(line.messageId ? [{ dimension: "message-id" as const, value: line.messageId }] : []),
        ...(line.partner ? [{ dimension: "partner" as const, value: line.partner }] : []),
        ...(line.code ? [{ dimension: "code" as const, value: line.code.toUpperCase() }] : []),
      ])
    // The DSN's own delivery has attempt lines of its own (from `<>`); this line joins the record.
    case "dsn":
      return []
  }
}

/** What a search asks for; every given field must match (AND). Times in ms since the epoch. */
export interface TraceFilter {
  /** An address, or a domain (`customer.example` or `@customer.example`), or `<>`. */
  readonly from?: string | undefined
  /** An address, or a domain (`bank.example` or `@bank.example`). */
  readonly to?: string | undefined
  /** With or without the angle brackets. */
  readonly messageId?: string | undefined
  readonly queueId?: string | undefined
  readonly partner?: string | undefined
  /** A failure code (`CERT_EXPIRED`). */
  readonly code?: string | undefined
  readonly since?: number | undefined
  readonly until?: number | undefined
  /** At most this many messages, newest first. */
  readonly limit: number
}

const addressOrDomain = (
  text: string,
  address: "from" | "to",
  domain: "from-domain" | "to-domain",
): IndexEntry => {
  const value = lower(text)
  if (value.startsWith("@")) return { dimension: domain, value: value.slice(1) }
  return value.includes("@") ? { dimension: address, value } : { dimension: domain, value }
}

/** The index sets a filter intersects (none: every message, by time). */
export const entriesFor = (filter: TraceFilter): ReadonlyArray<IndexEntry> => [
  ...(filter.from === undefined
    ? []
    : [
        filter.from.trim() === NULL_SENDER
          ? { dimension: "from" as const, value: NULL_SENDER }
          : addressOrDomain(filter.from, "from", "from-domain"),
      ]),
  ...(filter.to === undefined ? [] : [addressOrDomain(filter.to, "to", "to-domain")]),
  ...(filter.messageId === undefined
    ? []
    : [{ dimension: "message-id" as const, value: filter.messageId.trim().replace(/^<|>$/g, "") }]),
  ...(filter.partner === undefined ? [] : [{ dimension: "partner" as const, value: filter.partner.trim() }]),
  ...(filter.code === undefined
    ? []
    : [{ dimension: "code" as const, value: filter.code.trim().toUpperCase() }]),
]
