/** What a lab server records about each connection: exactly what it received, nothing inferred. */

export interface ReceivedTls {
  readonly protocol: string | null
  readonly cipher: string
  readonly servername: string | undefined
  /** The client certificate, when one was presented. */
  readonly clientCertificate: { readonly subject: string; readonly authorized: boolean } | undefined
}

export interface ReceivedTransaction {
  readonly mailFrom: string
  /** MAIL FROM carried REQUIRETLS (RFC 8689). */
  readonly requireTLS: boolean
  /** Recipients the server accepted. */
  readonly rcptTo: Array<string>
  /** Recipients the server refused, with the reply it gave. */
  readonly rejected: Array<{ readonly address: string; readonly reply: string }>
  /** The message bytes as received after DATA (dot-unstuffed by smtp-server), once complete. */
  body: Buffer | undefined
  /** When MAIL FROM came (the lab's wall clock, ms): with `receivedAt`, whether transactions overlapped. */
  readonly startedAt?: number
  /** When the body was complete (the lab's wall clock, ms): what tests of delivery rates measure. */
  receivedAt?: number
}

export interface ReceivedConnection {
  readonly id: string
  readonly remoteAddress: string
  /** The last EHLO/HELO name the client gave (after STARTTLS: the one given inside TLS). */
  ehlo: string | undefined
  secure: boolean
  tls: ReceivedTls | undefined
  readonly transactions: Array<ReceivedTransaction>
  closed: boolean
}

export class Recorder {
  readonly connections: Array<ReceivedConnection> = []
  private readonly byId = new Map<string, ReceivedConnection>()

  connection(id: string, remoteAddress: string): ReceivedConnection {
    let found = this.byId.get(id)
    if (!found) {
      found = {
        id,
        remoteAddress,
        ehlo: undefined,
        secure: false,
        tls: undefined,
        transactions: [],
        closed: false,
      }
      this.byId.set(id, found)
      this.connections.push(found)
    }
    return found
  }

  /** A connection seen since the last `clear()`, if any. */
  find(id: string): ReceivedConnection | undefined {
    return this.byId.get(id)
  }

  /** Every MAIL FROM received, across connections. */
  mailFroms(): Array<string> {
    return this.connections.flatMap((c) => c.transactions.map((t) => t.mailFrom))
  }

  /** Transactions whose body arrived completely. */
  messages(): Array<ReceivedTransaction> {
    return this.connections.flatMap((c) => c.transactions.filter((t) => t.body !== undefined))
  }

  /** Total message bytes received (to assert that nothing of a message arrived). */
  bodyBytes(): number {
    return this.messages().reduce((sum, t) => sum + (t.body?.length ?? 0), 0)
  }

  clear(): void {
    this.connections.length = 0
    this.byId.clear()
  }
}
