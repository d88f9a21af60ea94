/**
 * RFC 8460 Appendix B, the example report, as the RFC prints it — with `additional-information`
 * joined back onto one line (the RFC wraps it across two, which leaves spaces in a URI) — and
 * scenario builders: a happy-path report with one field overridden per test.
 */
import type { TlsReport } from "../src/report"

export const RFC_EXAMPLE = {
  "organization-name": "Company-X",
  "date-range": {
    "start-datetime": "2016-04-01T00:00:00Z",
    "end-datetime": "2016-04-01T23:59:59Z",
  },
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  policies: [
    {
      policy: {
        "policy-type": "sts",
        "policy-string": [
          "version: STSv1",
          "mode: testing",
          "mx: *.mail.company-y.example",
          "max_age: 86400",
        ],
        "policy-domain": "company-y.example",
        "mx-host": "*.mail.company-y.example",
      },
      summary: {
        "total-successful-session-count": 5326,
        "total-failure-session-count": 303,
      },
      "failure-details": [
        {
          "result-type": "certificate-expired",
          "sending-mta-ip": "2001:db8:abcd:0012::1",
          "receiving-mx-hostname": "mx1.mail.company-y.example",
          "failed-session-count": 100,
        },
        {
          "result-type": "starttls-not-supported",
          "sending-mta-ip": "2001:db8:abcd:0013::1",
          "receiving-mx-hostname": "mx2.mail.company-y.example",
          "receiving-ip": "203.0.113.56",
          "failed-session-count": 200,
          "additional-information":
            "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported",
        },
        {
          "result-type": "validation-failure",
          "sending-mta-ip": "198.51.100.62",
          "receiving-ip": "203.0.113.58",
          "receiving-mx-hostname": "mx-backup.mail.company-y.example",
          "failed-session-count": 3,
          // Appendix B's name; §4.4 defines `failure-reason-code` (see schema.ts).
          "failure-error-code": "X509_V_ERR_PROOF_OF_POSSESSION",
        },
      ],
    },
  ],
} as const

/** Appendix B with its one member §4.4 does not define renamed to the §4.4 name. */
export const rfcExampleAsSpecified = (): TlsReport => {
  const example = structuredClone(RFC_EXAMPLE) as unknown as {
    policies: Array<{ "failure-details": Array<Record<string, unknown>> }>
  }
  const third = example.policies[0]!["failure-details"][2]!
  third["failure-reason-code"] = third["failure-error-code"]
  delete third["failure-error-code"]
  return example as unknown as TlsReport
}

/** A happy-path report from `org` for `our.example`: one sts policy, one failure type. */
export const sampleReport = (overrides: Partial<TlsReport> = {}): TlsReport => ({
  "organization-name": "Reporter Inc.",
  "date-range": { "start-datetime": "2025-06-01T00:00:00Z", "end-datetime": "2025-06-01T23:59:59Z" },
  "contact-info": "tlsrpt@reporter.example",
  "report-id": "2025-06-01-our.example-1",
  policies: [
    {
      policy: {
        "policy-type": "sts",
        "policy-string": ["version: STSv1", "mode: enforce", "mx: mx.our.example", "max_age: 604800"],
        "policy-domain": "our.example",
        "mx-host": "mx.our.example",
      },
      summary: { "total-successful-session-count": 40, "total-failure-session-count": 2 },
      "failure-details": [
        {
          "result-type": "certificate-expired",
          "sending-mta-ip": "192.0.2.10",
          "receiving-mx-hostname": "mx.our.example",
          "receiving-ip": "198.51.100.25",
          "failed-session-count": 2,
        },
      ],
    },
  ],
  ...overrides,
})
