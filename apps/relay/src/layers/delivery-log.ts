/**
 * The delivery log (`@mailconnect/delivery-log`): its `DeliveryLog` port bound to the targets of
 * RELAY_DELIVERY_LOG — `stdout` and/or file paths, comma-separated (a file is appended to, opened
 * once, flushed and closed when the relay stops); unset: no delivery log. Each line is one JSON
 * object with this relay's id (RELAY_ID). The worker writes attempts and DSNs through the port,
 * the ingress its accepted messages (`sessionInLine`). Each line also goes to the message trace
 * (`message-trace.ts`, RELAY_TRACE, on by default).
 */
import { createWriteStream, type WriteStream } from "node:fs"
import type { DeliveryLogLine, SessionInLine } from "@mailconnect/delivery-log"
import { DeliveryLog, jsonLine, messageIdOf } from "@mailconnect/delivery-log"
import type { AcceptedMessage } from "@mailconnect/smtp-inbound"
import { Config, Effect, Layer } from "effect"
import { RelayConfig } from "../config"
import { traceSink } from "./message-trace"

const targetsConfig = Config.string("RELAY_DELIVERY_LOG").pipe(
  Config.withDefault(""),
  Config.map((text) =>
    text
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t.length > 0),
  ),
)

const openFile = (path: string) =>
  Effect.acquireRelease(
    Effect.async<WriteStream, Error>((resume) => {
      const stream = createWriteStream(path, { flags: "a" })
      stream.once("open", () => resume(Effect.succeed(stream)))
      stream.once("error", (e) => resume(Effect.fail(e)))
    }),
    (stream) => Effect.async<void>((resume) => void stream.end(() => resume(Effect.void))),
  )

export const DeliveryLogLayer = Layer.scoped(
  DeliveryLog,
  Effect.gen(function* () {
    const targets = yield* targetsConfig
    const { relayId } = yield* RelayConfig
    const files = yield* Effect.forEach(
      targets.filter((t) => t !== "stdout"),
      (path) =>
        openFile(path).pipe(
          Effect.mapError((e) => new Error(`RELAY_DELIVERY_LOG: cannot open ${path}: ${e.message}`)),
        ),
    )
    const trace = yield* traceSink
    const sinks: Array<(text: string) => void> = [
      ...(targets.includes("stdout") ? [(text: string) => void process.stdout.write(text)] : []),
      ...files.map((stream) => (text: string) => void stream.write(text)),
    ]
    if (sinks.length > 0)
      yield* Effect.logInfo("delivery log").pipe(Effect.annotateLogs({ targets: targets.join(",") }))
    return {
      write: (line: DeliveryLogLine) =>
        (sinks.length === 0
          ? Effect.void
          : Effect.sync(() => {
              const text = jsonLine(line, relayId)
              for (const sink of sinks) sink(text)
            })
        ).pipe(Effect.zipRight(trace ? trace(line) : Effect.void)),
    }
  }),
)

/** The ingress's accepted message as the delivery log's session-in line. */
export const sessionInLine = (listener: string, size: number, m: AcceptedMessage): SessionInLine => {
  const messageId = messageIdOf(m.headers)
  return {
    event: "session-in",
    at: new Date(m.at).toISOString(),
    queueId: m.queueId,
    ...(messageId ? { messageId } : {}),
    listener,
    client: m.client,
    tls: m.tls ?? null,
    ...(m.user ? { user: m.user } : {}),
    ...(m.connector ? { connector: m.connector } : {}),
    sender: m.sender,
    recipients: m.recipients,
    size,
    ...(m.requireTls ? { requireTls: true } : {}),
  }
}
