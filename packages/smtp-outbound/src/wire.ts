/**
 * The few SMTP exchanges before TLS that nodemailer cannot be asked to do our way: reading the
 * greeting and the EHLO capabilities ourselves (STARTTLS offered or not, decided from the
 * keywords and never from a host name that happens to contain "starttls"), then STARTTLS.
 */
import type { Socket } from "node:net"
import type { SmtpReply, TranscriptLine } from "./evidence"

export type WireFailure =
  | { readonly kind: "timeout" }
  | { readonly kind: "closed" }
  | { readonly kind: "error"; readonly error: NodeJS.ErrnoException }

export class WireError extends Error {
  constructor(readonly failure: WireFailure) {
    super(failure.kind === "error" ? failure.error.message : failure.kind)
  }
}

const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})\s/

export const parseReply = (raw: string): SmtpReply => {
  const lines = raw.split(/\r?\n/).filter((line) => line.length > 0)
  const code = Number(lines[0]?.slice(0, 3) ?? "0")
  const texts = lines.map((line) => line.slice(4))
  const enhanced = ENHANCED.exec(texts[0] ?? "")?.[1]
  return { code, enhanced, text: texts.join("\n") }
}

/** EHLO keywords (upper case), without the first line (the server's name and greeting). */
export const ehloKeywords = (reply: SmtpReply): ReadonlyArray<string> =>
  reply.text
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[0]?.toUpperCase() ?? "")
    .filter((keyword) => keyword.length > 0)

/** The error listener of a socket between two owners: a reset then is no unhandled 'error'. */
export const ignoreError = (): void => {}

export class ReplyReader {
  private buffered = ""
  private current = ""
  private readonly replies: Array<string> = []
  private waiter: ((outcome: string | WireFailure) => void) | undefined
  private ended: WireFailure | undefined
  private readonly onData = (chunk: Buffer) => {
    this.buffered += chunk.toString("latin1")
    for (let end = this.buffered.indexOf("\n"); end !== -1; end = this.buffered.indexOf("\n")) {
      const line = this.buffered.slice(0, end + 1)
      this.buffered = this.buffered.slice(end + 1)
      this.current += line
      if (/^\d{3}(?: |\r?\n)/.test(line)) {
        this.replies.push(this.current)
        this.current = ""
      }
    }
    this.flush()
  }
  private readonly onClose = () => this.end({ kind: "closed" })
  private readonly onError = (error: NodeJS.ErrnoException) => this.end({ kind: "error", error })

  constructor(
    private readonly socket: Socket,
    private readonly transcript: Array<TranscriptLine>,
  ) {
    socket.on("data", this.onData)
    socket.on("close", this.onClose)
    socket.on("error", this.onError)
  }

  private end(failure: WireFailure) {
    this.ended ??= failure
    this.flush()
  }

  private flush() {
    const waiter = this.waiter
    if (!waiter) return
    const next = this.replies.shift()
    if (next !== undefined) {
      this.waiter = undefined
      waiter(next)
    } else if (this.ended) {
      this.waiter = undefined
      waiter(this.ended)
    }
  }

  /** The next complete reply, or a WireError when the socket fails, closes or stays silent. */
  read(timeoutMs: number): Promise<{ reply: SmtpReply; raw: string }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined
        reject(new WireError({ kind: "timeout" }))
      }, timeoutMs)
      this.waiter = (outcome) => {
        clearTimeout(timer)
        if (typeof outcome === "string") {
          for (const line of outcome.split(/\r?\n/)) if (line) this.transcript.push({ direction: "S", line })
          resolve({ reply: parseReply(outcome), raw: outcome })
        } else reject(new WireError(outcome))
      }
      this.flush()
    })
  }

  send(command: string): void {
    this.transcript.push({ direction: "C", line: command })
    this.socket.write(`${command}\r\n`)
  }

  /**
   * Stops reading. Whatever arrived after the last reply is discarded: bytes received in
   * plaintext after STARTTLS's 220 must not be taken into the TLS session (RFC 3207 §6).
   */
  detach(): void {
    this.socket.removeListener("data", this.onData)
    this.socket.removeListener("close", this.onClose)
    this.socket.removeListener("error", this.onError)
    // Until the next reader attaches (or for good, when the session is only being closed), a
    // reset by the peer must not be an unhandled 'error' (it would end the process); the next
    // step finds the socket destroyed.
    this.socket.on("error", ignoreError)
    // Paused until the next reader (TLS or nodemailer) attaches, or bytes would be dropped.
    this.socket.pause()
    this.buffered = ""
    this.current = ""
    this.replies.length = 0
  }
}
