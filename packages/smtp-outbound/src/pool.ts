/**
 * Verified sessions kept open for the next message to the same server under the same policy
 * (DESIGN §5 destination actors' connection cache), bounded by message count and idle time; and
 * TLS session tickets per server for resumption.
 */
import type { TlsEvidence } from "./evidence"
import type { OpenSession, SavedTlsSession } from "./session"
import { quitSession } from "./transaction"

export interface PooledSession {
  readonly key: string
  readonly session: OpenSession
  readonly tls: TlsEvidence | undefined
  messages: number
  idleTimer: NodeJS.Timeout | undefined
}

export class SessionPool {
  private readonly idle = new Map<string, Array<PooledSession>>()
  private readonly tickets = new Map<string, SavedTlsSession>()
  private closed = false

  constructor(
    private readonly maxMessages: number,
    private readonly idleTimeoutMs: number,
  ) {}

  take(key: string): PooledSession | undefined {
    const list = this.idle.get(key)
    while (list && list.length > 0) {
      const pooled = list.pop()!
      clearTimeout(pooled.idleTimer)
      pooled.idleTimer = undefined
      if (!pooled.session.lastError && !isClosed(pooled.session)) return pooled
      quitSession(pooled.session)
    }
    return undefined
  }

  /** Returns a session after a message; it is closed instead when spent or when the pool is closed. */
  give(pooled: PooledSession): void {
    if (this.closed || pooled.messages >= this.maxMessages || this.maxMessages <= 1) {
      quitSession(pooled.session)
      return
    }
    const list = this.idle.get(pooled.key) ?? []
    this.idle.set(pooled.key, list)
    list.push(pooled)
    pooled.idleTimer = setTimeout(() => {
      const at = list.indexOf(pooled)
      if (at !== -1) list.splice(at, 1)
      quitSession(pooled.session)
    }, this.idleTimeoutMs)
    pooled.idleTimer.unref()
  }

  /** Closes a session that must not carry another message. */
  discard(pooled: PooledSession): void {
    clearTimeout(pooled.idleTimer)
    quitSession(pooled.session)
  }

  /** `key`: server address and port plus the client certificate name (a ticket carries the client's identity). */
  ticket(key: string): SavedTlsSession | undefined {
    return this.tickets.get(key)
  }

  rememberTicket(key: string, saved: SavedTlsSession): void {
    this.tickets.set(key, saved)
  }

  closeAll(): void {
    this.closed = true
    for (const list of this.idle.values()) {
      for (const pooled of list) {
        clearTimeout(pooled.idleTimer)
        quitSession(pooled.session)
      }
    }
    this.idle.clear()
  }
}

const isClosed = (session: OpenSession): boolean => {
  const connection = session.connection as unknown as { _destroyed?: boolean; _closing?: boolean }
  return connection._destroyed === true || connection._closing === true
}
