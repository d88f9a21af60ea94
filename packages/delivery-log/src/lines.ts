/**
 * The delivery log: one JSON object a line per SMTP session in (a message accepted), per
 * delivery attempt out and per DSN queued — the compliance record that mail to a partner
 * travelled authenticated, complete also for mail that was delivered. Field names are stable
 * (docs/delivery-log.md documents each); secrets (passwords, keys) and message content never
 * appear. Plain data; the relay writes it (`apps/relay/src/layers/delivery-log.ts`).
 */

/** The TLS of one session out, as the job keeps it (the outbound evidence, reduced). */
export interface LogTls {
  readonly protocol: string | null
  readonly cipher: string
  readonly resumed?: boolean | undefined
  /** The name of the client certificate we presented (mtls), never its key. */
  readonly clientCertificate?: string | undefined
  readonly peer?:
    | {
        readonly subject: string
        readonly issuer: string
        readonly subjectAltNames: ReadonlyArray<string>
        readonly notAfter: string
        readonly spkiPin: string
      }
    | undefined
  readonly verification?:
    | {
        readonly ok: boolean
        readonly failure?: string | undefined
        readonly findings: ReadonlyArray<string>
        readonly matchedName?: string | undefined
        readonly matchedPin?: string | undefined
      }
    | undefined
}

/** A message accepted by a listener: queued (250) before this line is written. */
export interface SessionInLine {
  readonly event: "session-in"
  readonly at: string
  readonly queueId: string
  /** The message's Message-ID header, without angle brackets; absent when it has none. */
  readonly messageId?: string
  readonly listener: string
  readonly client: { readonly address: string; readonly helo: string }
  /** `null`: plaintext. */
  readonly tls: { readonly protocol: string; readonly cipher: string } | null
  /** The AUTH user (submission); never a password. */
  readonly user?: string
  /** The customer connector the connection matched. */
  readonly connector?: string
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  readonly size: number
  readonly requireTls?: boolean
}

export type RecipientOutcome = "delivered" | "deferred" | "bounced"

/** One delivery attempt of one job (a message's recipients at one domain). */
export interface AttemptLine {
  readonly event: "attempt"
  readonly at: string
  readonly queueId: string
  readonly messageId?: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly sender: string
  readonly domain: string
  /** The partner whose agreement applies; absent without one, `local` for our own domains. */
  readonly partner?: string
  /** Who authenticated the hop: partner, dane, mta-sts, none; absent when no session was opened. */
  readonly source?: "partner" | "dane" | "mta-sts" | "none"
  /** `partial`: some recipients delivered, others not. */
  readonly result: "delivered" | "deferred" | "bounced" | "partial"
  readonly recipients: ReadonlyArray<{
    readonly address: string
    readonly outcome: RecipientOutcome
    readonly status: string
    readonly reply?: string
  }>
  /** Our failure code when the attempt did not deliver everything. */
  readonly code?: string
  readonly server?: string
  /** `null`: the session was plaintext; absent: no session. */
  readonly tls?: LogTls | null
  readonly bundleSerial: number
  /** When the deferred recipients are tried again. */
  readonly nextAttemptAt?: string
}

/** A delivery status notification queued to the sender. */
export interface DsnLine {
  readonly event: "dsn"
  readonly at: string
  /** The original message's queue id. */
  readonly queueId: string
  readonly dsnQueueId: string
  readonly kind: "delay" | "failure"
  /** The original sender, who gets the DSN. */
  readonly to: string
  readonly recipients: ReadonlyArray<{
    readonly address: string
    readonly status: string
    readonly code?: string
  }>
}

export type DeliveryLogLine = SessionInLine | AttemptLine | DsnLine

/** The line as written: event, time and relay first, then the rest; one line, `\n` at the end. */
export const jsonLine = (line: DeliveryLogLine, relay: string): string => {
  const { event, at, ...rest } = line
  return `${JSON.stringify({ event, at, relay, ...rest })}\n`
}
