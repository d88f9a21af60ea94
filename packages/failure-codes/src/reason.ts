/**
 * The structured reason behind a failure code, as data the job keeps: what varies within one
 * cause (which form of STARTTLS failure, which names were expected and presented, what a pin
 * mismatch looks like, that a circuit breaker was open). The outbound adapter builds it from its
 * tagged error; job log lines and DSN text render it (`describeReason`); nothing parses text back.
 */
import { Schema } from "effect"

export const PIN_DIAGNOSIS_KINDS = [
  "same-key-renewed",
  "new-key-same-names-issuer",
  "different-issuer-or-names",
] as const

const Names = Schema.Array(Schema.String)

export const FailureReason = Schema.Union(
  Schema.TaggedStruct("PinMismatch", {
    observedPin: Schema.String,
    configuredPins: Names,
    looksLike: Schema.Literal(...PIN_DIAGNOSIS_KINDS),
    comparedWith: Schema.Literal("previous-certificate", "policy"),
    /** The pin that would admit the observed certificate, if the change is legitimate. */
    pinToAdd: Schema.String,
  }),
  Schema.TaggedStruct("NameMismatch", { expected: Names, presented: Names }),
  Schema.TaggedStruct("CertExpired", {
    form: Schema.Literal("expired", "not-yet-valid"),
    notBefore: Schema.String,
    notAfter: Schema.String,
  }),
  Schema.TaggedStruct("Untrusted", {
    anchor: Schema.Literal("public-roots", "partner-ca"),
    reason: Schema.String,
  }),
  Schema.TaggedStruct("StartTls", { form: Schema.Literal("not-advertised", "refused") }),
  Schema.TaggedStruct("TlsProtocol", { minVersion: Schema.String }),
  Schema.TaggedStruct("ClientCert", {
    form: Schema.Literal("alert", "reply", "closed", "unavailable"),
    certificateName: Schema.optional(Schema.String),
  }),
  Schema.TaggedStruct("NoRoute", { reason: Schema.Literal("no-mx-or-address", "lookup-failed", "null-mx") }),
  Schema.TaggedStruct("Dane", {
    problem: Schema.Literal("NO_MATCH", "TA_CHAIN", "TA_NAME", "TA_EXPIRED"),
    records: Names,
  }),
  Schema.TaggedStruct("DnssecBogus", {
    name: Schema.String,
    type: Schema.Literal("MX", "A", "AAAA", "TLSA"),
  }),
  Schema.TaggedStruct("MtaStsMx", { policyId: Schema.String, patterns: Names, hosts: Names }),
  /** REQUIRETLS (RFC 8689): no authenticated hop, or none advertised the extension. */
  Schema.TaggedStruct("RequireTls", { form: Schema.Literal("no-authenticated-hop", "not-offered") }),
  /** No server was contacted: the destination's breaker was open after repeated failures. */
  Schema.TaggedStruct("CircuitOpen", { openUntil: Schema.Number, consecutiveFailures: Schema.Number }),
)
export type FailureReason = typeof FailureReason.Type

/**
 * What the reason adds to the failure's own words (`detail`), for a job log line or a DSN;
 * undefined when those words already say it all (a breaker's detail names its open-until and count).
 */
export const describeReason = (reason: FailureReason): string | undefined => {
  switch (reason._tag) {
    case "PinMismatch":
      return `looks like ${reason.looksLike}; if legitimate add pin ${reason.pinToAdd}`
    default:
      return undefined
  }
}
