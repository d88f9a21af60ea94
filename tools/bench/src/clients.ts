/**
 * The benches' submission client: nodemailer to a test relay's submission port, STARTTLS verified
 * against the relay's CA and AUTH as the stack's `alice`. Pooled (every message on one of
 * `connections` connections) or, with `connections: "per-message"`, a new connection each time.
 */
import type { SmtpRelay } from "@mailconnect/test-support"
import nodemailer from "nodemailer"

export const submissionClient = (
  relay: Pick<SmtpRelay, "submissionPort">,
  relayCa: string,
  connections: number | "per-message",
) =>
  nodemailer.createTransport({
    pool: connections !== "per-message",
    maxConnections: connections === "per-message" ? 1 : Math.max(1, Math.round(connections)),
    maxMessages: Number.POSITIVE_INFINITY,
    host: "127.0.0.1",
    port: relay.submissionPort,
    requireTLS: true,
    tls: { ca: relayCa, servername: "relay.test" },
    auth: { user: "alice", pass: "a long test password" },
  })
