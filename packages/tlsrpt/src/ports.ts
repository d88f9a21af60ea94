/**
 * What the report sender needs from the relay: a TXT look-up (the relay's resolver) and a way
 * to send a report by mail — through our own queue, as a normal message from the null reverse
 * path, so a report that cannot be delivered never causes a DSN (and a report about it).
 */
import { Context, type Effect } from "effect"
import type { TlsReportNotDelivered, TlsRptDnsFailed } from "./errors"

export class TlsRptDns extends Context.Tag("@mailconnect/tlsrpt/TlsRptDns")<
  TlsRptDns,
  {
    /** Each TXT record as its character-strings; empty when the name or type does not exist. */
    readonly txt: (name: string) => Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, TlsRptDnsFailed>
  }
>() {}

export class ReportMailer extends Context.Tag("@mailconnect/tlsrpt/ReportMailer")<
  ReportMailer,
  {
    /** Queues `body` for `recipient` (envelope sender `<>`); a queue id once it is stored. */
    readonly send: (recipient: string, body: Buffer) => Effect.Effect<string, TlsReportNotDelivered>
  }
>() {}
