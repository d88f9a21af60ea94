/**
 * The RFC 8460 (SMTP TLS Reporting) aggregate report, as data: the JSON object of §4.4 with the
 * RFC's own field names, the result types of §4.3, and the report's media type and file name
 * (§5.3). Pure; the sender builds reports from the fleet's counters (`counters.ts`), the receiver
 * validates them against `schema.ts`.
 */

/** §4.3: why a session (or the policy lookup before it) failed. */
export const RESULT_TYPES = [
  "starttls-not-supported",
  "certificate-host-mismatch",
  "certificate-expired",
  "certificate-not-trusted",
  "validation-failure",
  "tlsa-invalid",
  "dnssec-invalid",
  "dane-required",
  "sts-policy-fetch-error",
  "sts-policy-invalid",
  "sts-webpki-invalid",
] as const
export type ResultType = (typeof RESULT_TYPES)[number]

/** §4.4 policy-type. */
export type PolicyType = "tlsa" | "sts" | "no-policy-found"

export interface ReportPolicy {
  readonly "policy-type": PolicyType
  readonly "policy-string"?: ReadonlyArray<string>
  readonly "policy-domain": string
  readonly "mx-host"?: string
}

export interface FailureDetail {
  readonly "result-type": ResultType
  readonly "sending-mta-ip"?: string
  readonly "receiving-mx-hostname"?: string
  readonly "receiving-mx-helo"?: string
  readonly "receiving-ip"?: string
  readonly "failed-session-count": number
  readonly "additional-information"?: string
  readonly "failure-reason-code"?: string
}

export interface PolicyResult {
  readonly policy: ReportPolicy
  readonly summary: {
    readonly "total-successful-session-count": number
    readonly "total-failure-session-count": number
  }
  readonly "failure-details"?: ReadonlyArray<FailureDetail>
}

export interface TlsReport {
  readonly "organization-name": string
  readonly "date-range": { readonly "start-datetime": string; readonly "end-datetime": string }
  readonly "contact-info": string
  readonly "report-id": string
  readonly policies: ReadonlyArray<PolicyResult>
}

/** §5.3: the media type of a gzip-compressed report (mail attachment and HTTPS body). */
export const GZIP_MEDIA_TYPE = "application/tlsrpt+gzip"
export const JSON_MEDIA_TYPE = "application/tlsrpt+json"

/**
 * §5.3 file name: `sender!policy-domain!begin-timestamp!end-timestamp[!unique-id].json.gz`, the
 * timestamps in seconds since the epoch.
 */
export const reportFileName = (
  submitter: string,
  policyDomain: string,
  begin: number,
  end: number,
  uniqueId: string,
): string =>
  `${submitter}!${policyDomain}!${Math.floor(begin / 1000)}!${Math.floor(end / 1000)}!${uniqueId}.json.gz`
