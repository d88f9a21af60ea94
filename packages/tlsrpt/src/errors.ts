/** The sending side's failures, as tagged values. */
import { Data } from "effect"

/** Redis did not answer a counters command (the report waits for the next round). */
export class TlsReportStoreUnavailable extends Data.TaggedError("TlsReportStoreUnavailable")<{
  readonly operation: string
  readonly detail: string
}> {}

/** `_smtp._tls.<domain>` could not be looked up (not: it does not exist). */
export class TlsRptDnsFailed extends Data.TaggedError("TlsRptDnsFailed")<{
  readonly name: string
  readonly detail: string
}> {}

/** A report could not be handed to one of its `rua` destinations. */
export class TlsReportNotDelivered extends Data.TaggedError("TlsReportNotDelivered")<{
  readonly rua: string
  readonly form: "queue-unavailable" | "https-status" | "https-failed" | "https-refused-address"
  readonly detail: string
  readonly status?: number
}> {}
