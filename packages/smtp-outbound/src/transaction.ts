/**
 * One mail transaction over an open session: MAIL FROM, RCPT TO (pipelined when offered), DATA
 * with the body streamed once for all recipients; a result per recipient.
 */
import type { Readable } from "node:stream"
import { Effect } from "effect"
import { type ClassifyContext, classifyNodemailerError, classifyReply } from "./classify"
import { type DeliveryError, RequireTlsUnmet, type SmtpPermanent, type SmtpTransient } from "./errors"
import type { SmtpReply } from "./evidence"
import type { OpenSession } from "./socket-steps"
import { parseReply } from "./wire"

export type RecipientResult =
  | { readonly recipient: string; readonly status: "delivered"; readonly reply: SmtpReply }
  | { readonly recipient: string; readonly status: "deferred"; readonly error: SmtpTransient }
  | { readonly recipient: string; readonly status: "bounced"; readonly error: SmtpPermanent }

export interface Message {
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  /** A Buffer, or a stream read once (never copied per recipient). */
  readonly body: Buffer | Readable
  /** RFC 8689: MAIL FROM carries REQUIRETLS; a server that does not advertise it gets no MAIL FROM. */
  readonly requireTls?: boolean
}

export interface TransactionOutcome {
  readonly recipients: ReadonlyArray<RecipientResult>
  /** nodemailer needs RSET before this session carries another message. */
  readonly needsReset: boolean
}

interface NodemailerError extends Error {
  readonly code?: string
  readonly command?: string
  readonly response?: string
  readonly recipient?: string
  readonly rejectedErrors?: ReadonlyArray<NodemailerError>
}

const rejectedResult = (error: NodemailerError, ctx: ClassifyContext): RecipientResult => {
  const recipient = error.recipient ?? ""
  const classified = classifyReply(parseReply(error.response ?? "451 4.4.2 no reply"), {
    ...ctx,
    phase: "rcpt",
  })
  return classified._tag === "SmtpPermanent"
    ? { recipient, status: "bounced", error: classified }
    : { recipient, status: "deferred", error: classified as SmtpTransient }
}

/**
 * Per-recipient results, or a session-level DeliveryError.
 *
 * nodemailer's `close()` forgets a send in flight without calling its callback; only its error
 * handler completes the send (after `close()`, in the same tick). Its other ways into `close()`
 * leave the send waiting for ever: a command written when the socket is already destroyed (a
 * reset noticed with the reply before it), or an error on a connection already torn down. So the
 * connection's 'end' (emitted by every teardown) fails a send not completed by then, as the
 * connection lost.
 */
export const sendMessage = (session: OpenSession, message: Message, ctx: ClassifyContext) =>
  Effect.async<TransactionOutcome, DeliveryError>((resume) => {
    const connection = session.connection
    let done = false
    const settle = (effect: Effect.Effect<TransactionOutcome, DeliveryError>) => {
      if (done) return
      done = true
      connection.removeListener("end", ended)
      resume(effect)
    }
    const resolve = (outcome: TransactionOutcome) => settle(Effect.succeed(outcome))
    const reject = (error: DeliveryError) => settle(Effect.fail(error))
    // After the error handler's own callback, if there is one (it runs right after the 'end').
    const ended = () =>
      setImmediate(() => {
        if (done) return
        const lost = Object.assign(new Error("Connection closed unexpectedly"), {
          code: "ECONNECTION",
          command: "CONN",
        })
        reject(classifyNodemailerError(lost, { ...ctx, phase: "mail" }))
      })
    connection.once("end", ended)
    const envelope = {
      from: message.sender,
      to: [...message.recipients],
      ...(message.requireTls ? { requireTLSExtensionEnabled: true } : {}),
    }
    connection.send(envelope, message.body, (error, info) => {
      if (error) {
        const failure = error as NodemailerError
        // nodemailer checks the EHLO keywords (inside TLS) before it writes MAIL FROM.
        if (failure.code === "EREQUIRETLS")
          return reject(
            new RequireTlsUnmet({
              server: ctx.server,
              phase: "ehlo",
              detail: failure.message,
              attempts: [],
              form: "not-offered",
            }),
          )
        if (failure.code === "EENVELOPE" && failure.command === "RCPT TO" && failure.rejectedErrors) {
          return resolve({
            recipients: failure.rejectedErrors.map((e) => rejectedResult(e, ctx)),
            needsReset: true,
          })
        }
        const classified: DeliveryError = classifyNodemailerError(failure, { ...ctx, phase: "mail" })
        if (
          failure.command === "DATA" &&
          (classified._tag === "SmtpTransient" || classified._tag === "SmtpPermanent")
        ) {
          // The message as a whole was refused after DATA: the same answer for every recipient.
          return resolve({
            recipients: message.recipients.map((recipient) =>
              classified._tag === "SmtpPermanent"
                ? { recipient, status: "bounced" as const, error: classified }
                : { recipient, status: "deferred" as const, error: classified },
            ),
            needsReset: true,
          })
        }
        return reject(classified)
      }
      const reply = parseReply(info.response)
      const rejected = new Map(
        ((info.rejectedErrors ?? []) as ReadonlyArray<NodemailerError>).map((e) => [e.recipient ?? "", e]),
      )
      resolve({
        recipients: message.recipients.map((recipient): RecipientResult => {
          const refusal = rejected.get(recipient)
          return refusal ? rejectedResult(refusal, ctx) : { recipient, status: "delivered", reply }
        }),
        needsReset: false,
      })
    })
    // Interrupted (the attempt's deadline): nothing is left listening on the connection.
    return Effect.sync(() => {
      done = true
      connection.removeListener("end", ended)
    })
  })

/**
 * RSET; false when the session can no longer carry a message (nothing to classify: it is closed).
 * nodemailer never calls RSET's callback when the connection fails or closes while it waits for
 * the reply (its error handler completes only a message in flight): a cached session the partner
 * reset just then held its attempt — and the job's lock — for ever. The connection's own 'error'
 * and 'end' end the wait too.
 */
export const resetSession = (session: OpenSession) =>
  Effect.async<boolean>((resume) => {
    const connection = session.connection
    let done = false
    const finish = (reusable: boolean) => {
      if (done) return
      done = true
      connection.removeListener("error", failed)
      connection.removeListener("end", failed)
      resume(Effect.succeed(reusable))
    }
    const failed = () => finish(false)
    if (session.closed) return finish(false)
    connection.once("error", failed)
    connection.once("end", failed)
    connection.reset((error) => finish(!error))
  })

export { quitSession } from "./socket-steps"
