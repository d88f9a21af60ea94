/**
 * One scenario per rule code: the base directory with one thing broken. `expected` is the
 * complete diagnostic output, so a scenario also proves that nothing else is reported.
 */
import type { RuleCode } from "../src"
import type { TestCertificates } from "./pki"
import { appendTo, edit, type Files, withFiles } from "./scenario"

export interface RuleScenario {
  readonly rule: RuleCode
  readonly name: string
  readonly files: (base: Files, certs: TestCertificates) => Files
  readonly strict?: boolean
}

const partner = (name: string, body: string) => `apiVersion: mailconnect/v1
kind: Partner
name: ${name}
${body}`

const connector = (name: string, body: string) => `apiVersion: mailconnect/v1
kind: Connector
name: ${name}
${body}`

/** A valid connector; each connector scenario changes one thing in it. */
export const ACME_CONNECTOR = connector(
  "acme",
  `networks: [192.0.2.0/24, "2001:db8:25::/48"]
senderDomains: [acme.example]
`,
)

const acme = (b: Files, from: string, to: string) =>
  edit(withFiles(b, { "connectors/acme.yaml": ACME_CONNECTOR }), "connectors/acme.yaml", from, to)

export const RULE_SCENARIOS: ReadonlyArray<RuleScenario> = [
  {
    rule: "YAML-SYNTAX",
    name: "an unclosed flow sequence",
    files: (b) => edit(b, "partners/court.yaml", "domains: [court.example]", "domains: [court.example"),
  },
  {
    rule: "YAML-SYNTAX",
    name: "two documents in one file",
    files: (b) => withFiles(b, { "groups/justice.yaml": `${b["groups/justice.yaml"]}---\nkind: Partner\n` }),
  },
  {
    rule: "API-VERSION",
    name: "an unsupported apiVersion",
    files: (b) => edit(b, "partners/court.yaml", "mailconnect/v1", "mailconnect/v2"),
  },
  {
    rule: "KIND-UNKNOWN",
    name: "a misspelled kind",
    files: (b) => edit(b, "groups/justice.yaml", "kind: ClosedGroup", "kind: ClosedGroups"),
  },
  {
    rule: "UNKNOWN-KEY",
    name: "a typo in a key",
    files: (b) =>
      edit(b, "partners/bank.yaml", "    names: [smtp.bank.example]", "    name: [smtp.bank.example]"),
  },
  {
    rule: "MISSING-FIELD",
    name: "a partner without domains",
    files: (b) => edit(b, "partners/court.yaml", "domains: [court.example]\n", ""),
  },
  {
    rule: "INVALID-VALUE",
    name: "an unknown TLS mode and a bad duration",
    files: (b) =>
      edit(
        edit(b, "partners/bank.yaml", "mode: enforce", "mode: enforced"),
        "partners/bank.yaml",
        "every: 1y",
        "every: 1 year",
      ),
  },
  {
    rule: "DEFAULTS-COUNT",
    name: "no defaults file",
    files: (b) => withFiles(b, { "defaults.yaml": null }),
  },
  {
    rule: "NAME-MISMATCH",
    name: "a partner named differently from its file",
    files: (b) => edit(b, "partners/notary.yaml", "name: notary", "name: notaries"),
  },
  {
    rule: "PARTNER-DUPLICATE",
    name: "the same partner name in two files",
    files: (b) =>
      withFiles(b, {
        "partners/zz-archive/court.yaml": partner("court", "domains: [court-archive.example]\n"),
      }),
  },
  {
    rule: "GROUP-DUPLICATE",
    name: "the same group name in two files",
    files: (b) => withFiles(b, { "groups/old/justice.yaml": b["groups/justice.yaml"]! }),
  },
  {
    rule: "DOMAIN-CONFLICT",
    name: "an exact domain claimed by two partners",
    files: (b) =>
      edit(
        b,
        "partners/notary.yaml",
        "domains: [notary.example]",
        "domains: [notary.example, court.example]",
      ),
  },
  {
    rule: "DOMAIN-OVERLAP",
    name: "a wildcard covering another partner's domain",
    files: (b) => withFiles(b, { "partners/eubank.yaml": partner("eubank", "domains: [eu.bank.example]\n") }),
  },
  {
    rule: "LOCAL-DOMAIN-CLAIMED",
    name: "a partner claiming our local domain",
    files: (b) =>
      edit(b, "partners/court.yaml", "domains: [court.example]", "domains: [court.example, acme.example]"),
  },
  {
    rule: "LOCAL-DOMAIN-DUPLICATE",
    name: "a local domain listed twice",
    files: (b) =>
      edit(
        b,
        "local.yaml",
        "  - domain: lawfirm.example",
        "  - domain: acme.example\n    deliverTo: other.acme.example\n  - domain: lawfirm.example",
      ),
  },
  {
    rule: "OVERRIDES-UNKNOWN",
    name: "overrides naming no partner",
    files: (b) =>
      edit(
        b,
        "partners/court.yaml",
        "domains: [court.example]",
        "domains: [court.example]\noverrides: [courts]",
      ),
  },
  {
    rule: "AGREEMENT-CONTACT-MISSING",
    name: "an enforce partner without technical contacts",
    files: (b) =>
      edit(
        b,
        "partners/bank.yaml",
        "  technicalContacts:\n    - name: Bank Ops\n      email: ops@bank.example\n",
        "",
      ),
  },
  {
    rule: "MTLS-CLIENT-CERT-MISSING",
    name: "an mtls partner without a client certificate",
    files: (b) => edit(b, "partners/court.yaml", "  clientCertificate: relay-client\n", ""),
  },
  {
    rule: "CERT-FILE-MISSING",
    name: "a CA file that does not exist, and one outside the directory",
    files: (b) =>
      edit(
        edit(b, "partners/bank.yaml", "ca: certs/ca.pem", "ca: certs/bank-ca.pem"),
        "partners/bank.yaml",
        "certificate: certs/leaf.pem",
        "certificate: ../leaf.pem",
      ),
  },
  {
    rule: "CERT-UNPARSABLE",
    name: "a CA file with a broken block, a certificate file without any",
    files: (b) =>
      edit(
        edit(b, "partners/bank.yaml", "ca: certs/ca.pem", "ca: certs/garbage.pem"),
        "partners/bank.yaml",
        "certificate: certs/leaf.pem",
        "certificate: certs/empty.pem",
      ),
  },
  {
    rule: "CA-NOT-CA",
    name: "a server certificate given as CA",
    files: (b) => edit(b, "partners/bank.yaml", "ca: certs/ca.pem", "ca: certs/leaf.pem"),
  },
  {
    rule: "CERT-EXPIRED",
    name: "an expired CA",
    files: (b) => edit(b, "partners/bank.yaml", "ca: certs/ca.pem", "ca: certs/expired-ca.pem"),
  },
  {
    rule: "CERT-EXPIRING",
    name: "a CA expiring within 30 days",
    files: (b) => edit(b, "partners/bank.yaml", "ca: certs/ca.pem", "ca: certs/expiring-ca.pem"),
  },
  {
    rule: "PIN-MALFORMED",
    name: "a pin of the wrong length and one without the sha256/ prefix",
    files: (b, c) =>
      edit(
        edit(b, "partners/bank.yaml", `      - ${c.ca.pin}`, "      - sha256/AAAA"),
        "partners/bank.yaml",
        `      - ${c.leaf.pin}`,
        `      - ${c.leaf.pin.slice(7)}`,
      ),
  },
  {
    rule: "PINS-REQUIRED",
    name: "pins-only trust without pins",
    files: (b) => edit(b, "partners/court.yaml", "  verify:\n", "  verify:\n    trust: pins\n"),
  },
  {
    rule: "PIN-CERTIFICATE-MISMATCH",
    name: "no pin matching the certificate on file",
    files: (b, c) => edit(b, "partners/bank.yaml", `      - ${c.leaf.pin}\n`, ""),
  },
  {
    rule: "TLS-LEGACY-UNACKNOWLEDGED",
    name: "TLSv1.1 without legacyTls",
    files: (b) => edit(b, "partners/bank.yaml", "minVersion: TLSv1.2", "minVersion: TLSv1.1"),
  },
  {
    rule: "GROUP-MEMBER-NOT-MTLS",
    name: "an enforce partner in a closed group",
    files: (b) =>
      edit(b, "groups/justice.yaml", "members: [court, notary]", "members: [court, notary, bank]"),
  },
  {
    rule: "GROUP-MEMBER-UNKNOWN",
    name: "an unknown member and a foreign local domain",
    files: (b) =>
      edit(
        b,
        "groups/justice.yaml",
        "members: [court, notary]\nlocalDomains: [lawfirm.example]",
        "members: [court, notary, tax-office]\nlocalDomains: [lawfirm.example, court.example]",
      ),
  },
  {
    rule: "ROUTE-SERVER-INVALID",
    name: "a bad route port and a bad local next hop",
    files: (b) =>
      edit(
        edit(b, "partners/bank.yaml", "smtp.bank.example:25", "smtp.bank.example:99999"),
        "local.yaml",
        "mailbox.lawfirm.example",
        "mailbox_lawfirm",
      ),
  },
  {
    rule: "REVIEW-OVERDUE",
    name: "a yearly review last attested 18 months ago",
    files: (b) => edit(b, "partners/bank.yaml", 'attestedOn: "2026-06-01"', 'attestedOn: "2025-05-01"'),
  },
  {
    rule: "RETRY-TIMELINE-INVALID",
    name: "a partner warning only after expiry",
    files: (b) => appendTo(b, "partners/court.yaml", "retry:\n  warnAfter: 11d\n"),
  },
  // Added with issue #12 (TLS hardening); appended so the numbered golden files of the
  // scenarios above keep their names.
  {
    rule: "DOMAIN-INVALID",
    name: "domains that do not convert to A-labels: bad Punycode, a wildcard inside, an address literal",
    files: (b) =>
      edit(
        edit(
          edit(
            b,
            "partners/court.yaml",
            "domains: [court.example]",
            'domains: [court.example, "xn--zz.example", "mail.*.court.example"]',
          ),
          "local.yaml",
          "  - domain: acme.example",
          '  - domain: "[192.0.2.1]"',
        ),
        "partners/bank.yaml",
        "names: [smtp.bank.example]",
        "names: [smtp.bank.example, smtp_bank.example]",
      ),
  },
  {
    rule: "ENFORCE-MX-NAMES-DEFAULT",
    name: "an mtls partner routed by DNS MX without tls.verify.names",
    files: (b) => edit(b, "partners/court.yaml", "  verify:\n    names: [mx.court.example]\n", ""),
  },
  {
    rule: "VERIFY-IGNORED-OPPORTUNISTIC",
    name: "an opportunistic partner with a CA and pins",
    files: (b, c) =>
      withFiles(b, {
        "partners/shop.yaml": partner(
          "shop",
          `domains: [shop.example]\ntls:\n  mode: opportunistic\n  verify:\n    ca: certs/ca.pem\n    pins: [${c.ca.pin}]\n`,
        ),
      }),
  },
  {
    rule: "CIPHERS-SECLEVEL",
    name: "a legacy-TLS partner whose cipher string lowers the security level itself",
    files: (b) =>
      edit(
        edit(
          b,
          "partners/bank.yaml",
          "  minVersion: TLSv1.2\n",
          "  minVersion: TLSv1.1\n  ciphers: DEFAULT@SECLEVEL=0\n",
        ),
        "partners/bank.yaml",
        '  signedOn: "2026-06-15"\n',
        '  signedOn: "2026-06-15"\n  legacyTls:\n    reason: contract annex 3 (TLS 1.1 until 2027)\n',
      ),
  },
  {
    rule: "PIN-MALFORMED",
    name: "a malformed pin in inbound.verify",
    files: (b) => appendTo(b, "partners/court.yaml", "inbound:\n  verify:\n    pins: [sha256/AAAA]\n"),
  },
  {
    rule: "PINS-REQUIRED",
    name: "inbound pins-only trust without pins",
    files: (b) => appendTo(b, "partners/court.yaml", "inbound:\n  verify:\n    trust: pins\n"),
  },
  {
    rule: "CA-NOT-CA",
    name: "a client certificate given as the inbound CA, and a missing inbound certificate file",
    files: (b) =>
      appendTo(
        b,
        "partners/court.yaml",
        "inbound:\n  verify:\n    ca: certs/leaf.pem\n    certificate: certs/court-client.pem\n",
      ),
  },
  {
    rule: "TLS-STANDARD-INVALID",
    name: "a YAML boolean in the defaults, and yes under %YAML 1.1 (read as a boolean) in a partner",
    files: (b) =>
      withFiles(
        edit(b, "defaults.yaml", "  minVersion: TLSv1.2\n", "  minVersion: TLSv1.2\n  dane: true\n"),
        {
          "partners/shop.yaml": `%YAML 1.1\n---\n${partner("shop", "domains: [shop.example]\ntls:\n  mode: opportunistic\n  mtaSts: yes\n")}`,
        },
      ),
  },
  {
    rule: "STANDARDS-IGNORED-ENFORCED",
    name: "an enforce partner switching DANE off and MTA-STS on",
    files: (b) =>
      edit(
        b,
        "partners/bank.yaml",
        "  minVersion: TLSv1.2\n",
        "  minVersion: TLSv1.2\n  dane: off\n  mtaSts: on\n",
      ),
  },
  {
    rule: "MTA-STS-INVALID",
    name: "a misspelled mode, a max_age over a year, a wildcard inside an mx pattern, enforce without mx",
    files: (b) =>
      edit(
        b,
        "local.yaml",
        "    deliverTo: mailbox.lawfirm.example\n",
        `    deliverTo: mailbox.lawfirm.example
    mtaSts:
      mode: enforced
      maxAge: 2y
      mx: [mx1.relay.example, "mx*.relay.example"]
  - domain: shop.example
    deliverTo: mailbox.shop.example
    mtaSts:
      mode: enforce
      maxAge: 7d
`,
      ),
  },
  {
    rule: "MTA-STS-MAX-AGE-SHORT",
    name: "enforce with a max_age of one hour",
    files: (b) =>
      edit(
        b,
        "local.yaml",
        "    deliverTo: mailbox.lawfirm.example\n",
        "    deliverTo: mailbox.lawfirm.example\n    mtaSts:\n      mode: enforce\n      maxAge: 1h\n      mx: [mx1.relay.example]\n",
      ),
  },
  {
    rule: "TLS-RPT-INVALID",
    name: "an http URI, a mailto without an address, and a tlsRpt without any rua",
    files: (b) =>
      edit(
        b,
        "local.yaml",
        "    deliverTo: mailbox.lawfirm.example\n",
        `    deliverTo: mailbox.lawfirm.example
    tlsRpt:
      rua: [http://reports.lawfirm.example/tlsrpt, "mailto:", mailto:tlsrpt@lawfirm.example]
  - domain: shop.example
    deliverTo: mailbox.shop.example
    tlsRpt:
      rua: []
`,
      ),
  },
  {
    rule: "CONNECTOR-DUPLICATE",
    name: "the same connector name in two files",
    files: (b) =>
      withFiles(b, { "connectors/acme.yaml": ACME_CONNECTOR, "connectors/old/acme.yaml": ACME_CONNECTOR }),
  },
  {
    rule: "CONNECTOR-UNAUTHENTICATED",
    name: "a connector with sender domains only",
    files: (b) => acme(b, `networks: [192.0.2.0/24, "2001:db8:25::/48"]\n`, ""),
  },
  {
    rule: "CONNECTOR-NETWORK-INVALID",
    name: "host bits, a host name, a mapped IPv6 network and a prefix too long",
    files: (b) =>
      acme(
        b,
        `networks: [192.0.2.0/24, "2001:db8:25::/48"]`,
        `networks: [192.0.2.1/24, mail.acme.example, "::ffff:192.0.2.0/120", 192.0.2.0/33]`,
      ),
  },
  {
    rule: "CONNECTOR-OPEN-RELAY",
    name: "every IPv6 address without a client certificate",
    files: (b) => acme(b, `"2001:db8:25::/48"`, `"::/0"`),
  },
  {
    rule: "CONNECTOR-NETWORK-BROAD",
    name: "a /8 without a client certificate",
    files: (b) => acme(b, "192.0.2.0/24", "10.0.0.0/8"),
  },
  {
    rule: "CONNECTOR-CERTIFICATE-INCOMPLETE",
    name: "a client certificate checked by names alone (public roots)",
    files: (b) =>
      acme(b, "senderDomains:", "clientCertificate:\n  names: [mta.acme.example]\nsenderDomains:"),
  },
  {
    rule: "CONNECTOR-SENDER-PARTNER",
    name: "a sender domain under a partner's wildcard, and a wildcard inside it",
    files: (b) =>
      acme(
        b,
        "senderDomains: [acme.example]",
        'senderDomains: [acme.example, mail.bank.example, "*.eu.bank.example"]',
      ),
  },
  {
    rule: "CONNECTOR-REQUIRE-TLS-IGNORED",
    name: "a client certificate with requireTls: false",
    files: (b) =>
      acme(
        b,
        "senderDomains:",
        "requireTls: false\nclientCertificate:\n  ca: certs/ca.pem\n  names: [mta.acme.example]\nsenderDomains:",
      ),
  },
  // Added with issue #16 (rate limits); appended so the numbered goldens above keep their names.
  {
    rule: "LIMIT-INVALID",
    name: "a partner allowing zero connections and half a message a minute, and a Defaults limit too large",
    files: (b) =>
      appendTo(
        appendTo(b, "partners/court.yaml", "limits:\n  messagesPerMinute: 0.5\n  connections: 0\n"),
        "defaults.yaml",
        "limits:\n  messagesPerMinute: 6000000\n",
      ),
  },
  // Added with issue #16 (the customer's confirmation of an agreement).
  {
    rule: "AGREEMENT-CONFIRMATION-MISSING",
    name: "an enforce partner whose agreement records no confirmation, an mtls one without its date",
    files: (b) =>
      edit(
        edit(
          b,
          "partners/bank.yaml",
          '  confirmedBy: Customer operations, ticket OPS-1\n  confirmedOn: "2026-06-15"\n',
          "",
        ),
        "partners/court.yaml",
        '  confirmedOn: "2026-10-01"\n',
        "",
      ),
  },
]
