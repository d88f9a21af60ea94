/**
 * What each field of the policy language means, for docs/policy-reference.md. Keyed by
 * `Kind.path` as schema-fields.ts reports them; the generator refuses to run when a schema field
 * has no entry here or an entry names a field the schema no longer has, so the reference cannot
 * drift from what `policy check` accepts.
 */
export const FIELD_DESCRIPTIONS: Readonly<Record<string, string>> = {
  "Defaults.apiVersion": "Always `mailconnect/v1`.",
  "Defaults.kind": "`Defaults` — exactly one such document (policies/defaults.yaml).",
  "Defaults.tls": "TLS toward anyone without a partner file.",
  "Defaults.tls.mode": "`opportunistic`, `enforce` or `mtls`; normally `opportunistic`.",
  "Defaults.tls.minVersion": "`TLSv1`, `TLSv1.1`, `TLSv1.2` or `TLSv1.3`; normally `TLSv1.2`.",
  "Defaults.tls.ciphers": "OpenSSL cipher list; absent: Node's default.",
  "Defaults.tls.dane":
    "`on` or `off`; absent: `on`. Whether DANE (RFC 7672) may authenticate the MX hosts of a domain without a partner file, and of opportunistic partners that do not set it themselves. Precedence at delivery: DANE when the TLSA records validate, else an MTA-STS `enforce` policy, else opportunistic. Only the words `on`/`off`, quoted or not (TLS-STANDARD-INVALID).",
  "Defaults.tls.mtaSts":
    "`on` or `off`; absent: `on`. Whether an MTA-STS (RFC 8461) `enforce` policy may authenticate those domains when DANE does not (switched off or no validated TLSA records); partners inherit it like `tls.dane`.",
  "Defaults.retry": "The retry timeline every message follows unless its partner overrides it.",
  "Defaults.retry.schedule":
    "Delays of the first attempts after queueing, increasing (e.g. `[5m, 10m, 20m, 40m]`).",
  "Defaults.retry.every": "Interval of the attempts after the schedule (e.g. `1h`).",
  "Defaults.retry.warnAfter":
    "When the sender gets a delay warning (e.g. `4h`); must be before `expireAfter`.",
  "Defaults.retry.expireAfter": "When the message is returned with a non-delivery report (e.g. `10d`).",
  "Defaults.dsn": "Delivery status notifications (delay warnings, non-delivery reports).",
  "Defaults.dsn.languages": "Languages of the human-readable part, in order (e.g. `[de, en]`).",
  "Defaults.limits":
    "Delivery limits for every partner that does not set the same field itself (field by field); absent: none. Mail to domains without a partner file is never limited.",
  "Defaults.limits.messagesPerMinute":
    "As in Partner, for each partner on its own (not for all of them together).",
  "Defaults.limits.connections": "As in Partner, for each partner on its own.",
  "Partner.apiVersion": "Always `mailconnect/v1`.",
  "Partner.kind": "`Partner` — one file per bilateral agreement, policies/partners/<name>.yaml.",
  "Partner.name": "The partner's name; must equal the file name (rule NAME-MISMATCH).",
  "Partner.agreement": "The signed agreement; required for `enforce` and `mtls`.",
  "Partner.agreement.reference": "The agreement's reference, e.g. `AGR-2026-007`.",
  "Partner.agreement.signedOn": 'Date signed, `"YYYY-MM-DD"`.',
  "Partner.agreement.confirmedBy":
    "Who at the customer confirmed it (name or ticket); required for `enforce`/`mtls` (AGREEMENT-CONFIRMATION-MISSING): the customer's word that mail to this partner may wait rather than go unauthenticated.",
  "Partner.agreement.confirmedOn":
    'When they confirmed it, `"YYYY-MM-DD"`; required with `confirmedBy` for `enforce`/`mtls`.',
  "Partner.agreement.technicalContacts":
    "The partner's technical contacts; at least one for `enforce`/`mtls` (AGREEMENT-CONTACT-MISSING).",
  "Partner.agreement.technicalContacts[].name": "Contact name or team.",
  "Partner.agreement.technicalContacts[].email": "Contact e-mail address.",
  "Partner.agreement.technicalContacts[].phone": "Contact phone number.",
  "Partner.agreement.legacyTls":
    "Acknowledgement that allows `tls.minVersion` below TLSv1.2 (TLS-LEGACY-UNACKNOWLEDGED without it).",
  "Partner.agreement.legacyTls.reason": "Why legacy TLS is accepted (RFC 8996 deprecates it).",
  "Partner.agreement.legacyTls.acknowledgedBy": "Who accepted the risk.",
  "Partner.domains":
    "Recipient domains: exact (`bank.example`) or `*.suffix` (subdomains only, not the suffix itself), in Unicode or A-labels; stored as UTS-46 A-labels (`müller-bank.de` → `xn--mller-bank-9db.de`), DOMAIN-INVALID if a domain does not convert.",
  "Partner.overrides":
    "Partners whose wildcard may cover this partner's more specific domains (DOMAIN-OVERLAP otherwise).",
  "Partner.route": "Explicit next hop; absent: DNS MX of the recipient domain.",
  "Partner.route.servers":
    '`host[:port]` (default port 25; IPv6 as `"[2001:db8::1]:25"`), tried in order; host names in Unicode or A-labels, stored as A-labels.',
  "Partner.tls": "TLS toward this partner; unset fields come from Defaults.",
  "Partner.tls.mode":
    "`opportunistic` (STARTTLS if offered), `enforce` (verified TLS or no delivery), `mtls` (enforce plus our client certificate).",
  "Partner.tls.minVersion": "Lowest TLS version accepted; below TLSv1.2 only with `agreement.legacyTls`.",
  "Partner.tls.ciphers":
    "OpenSSL cipher list for this partner; not needed for legacy TLS (the relay lowers the security level itself; `@SECLEVEL` here warns CIPHERS-SECLEVEL).",
  "Partner.tls.verify": "How the partner's server certificate is authenticated.",
  "Partner.tls.verify.trust":
    "`pkix` (default: chain and names, plus pins if given) or `pins` (the pins alone, for a self-signed certificate).",
  "Partner.tls.verify.names":
    "Accepted certificate names (Unicode or A-labels, `*.suffix` allowed). Default: the route server host names; by DNS MX under enforce/mtls the recipient domain or a subdomain of it, never the MX host name (ENFORCE-MX-NAMES-DEFAULT warns).",
  "Partner.tls.verify.ca":
    "Partner's private CA, a file under policies/ (e.g. `certs/bank-ca.pem`); default public roots.",
  "Partner.tls.verify.certificate":
    "The partner's server certificate on file (public), for pin checks and expiry warnings.",
  "Partner.tls.verify.pins":
    "`sha256/<base64 SPKI digest>`; any one matches (list two during a key rotation).",
  "Partner.tls.clientCertificate":
    "The name of our relay client certificate (`<name>.crt/.key` in RELAY_CLIENT_CERTS): required for `mtls`; under `enforce` presented when the partner's server asks for one.",
  "Partner.tls.dane":
    "`on` or `off`; absent: Defaults `tls.dane`, else `on`. For an `opportunistic` partner routed by DNS MX: whether DANE (RFC 7672) authenticates its MX hosts when their TLSA records validate (before MTA-STS, then opportunistic). Has no effect under `enforce`/`mtls`, where the partner's own `tls.verify` always wins (STANDARDS-IGNORED-ENFORCED warns).",
  "Partner.tls.mtaSts":
    "`on` or `off`; absent: Defaults `tls.mtaSts`, else `on`. For an `opportunistic` partner: whether its MTA-STS (RFC 8461) `enforce` policy applies when DANE does not; no effect under `enforce`/`mtls` (STANDARDS-IGNORED-ENFORCED).",
  "Partner.tls.review": "The yearly attestation that the partner's certificate details are still right.",
  "Partner.tls.review.attestedOn": 'Date of the last attestation, `"YYYY-MM-DD"`.',
  "Partner.tls.review.every": "Attestation interval (e.g. `1y`); REVIEW-OVERDUE warns after it.",
  "Partner.inbound": "Mail *from* this partner's domains to our inbound MX.",
  "Partner.inbound.requireTls":
    "Refuse the partner's mail over plaintext (default: true unless opportunistic).",
  "Partner.inbound.requireClientCertificate":
    "Require a valid client certificate from the partner's servers (default: true for mtls).",
  "Partner.inbound.verify":
    "How the client certificates of the partner's *sending* servers are authenticated; absent: the same as `tls.verify`.",
  "Partner.inbound.verify.trust": "As `tls.verify.trust`, for the sending servers.",
  "Partner.inbound.verify.names": "Accepted client certificate names (Unicode or A-labels).",
  "Partner.inbound.verify.ca":
    "CA of the partner's client certificates, a file under policies/; default public roots.",
  "Partner.inbound.verify.certificate":
    "The partner's client certificate on file (public), for pin checks and expiry warnings.",
  "Partner.inbound.verify.pins":
    "`sha256/<base64 SPKI digest>` of the client certificate keys; any one matches.",
  "Partner.retry": "Override of any of the Defaults retry fields for this partner.",
  "Partner.retry.schedule": "As in Defaults.",
  "Partner.retry.every": "As in Defaults.",
  "Partner.retry.warnAfter": "As in Defaults.",
  "Partner.retry.expireAfter": "As in Defaults.",
  "Partner.limits":
    "What the agreement allows us to send the partner, counted fleet-wide (all relays together, in Redis); absent: the Defaults' limits, else none. A delivery held back by a limit waits without counting as an attempt (docs/operations.md, Rate limits).",
  "Partner.limits.messagesPerMinute":
    "Messages (SMTP transactions, one per message and partner domain) per minute, whole number 1–100000 (LIMIT-INVALID). Counted in a sliding window: no more than this many in any 60 s.",
  "Partner.limits.connections":
    "Simultaneous deliveries (SMTP sessions in use) to the partner, whole number 1–1000 (LIMIT-INVALID); a slot is leased, so a relay that dies frees its slots after RELAY_RATE_LIMIT_LEASE.",
  "LocalDomains.apiVersion": "Always `mailconnect/v1`.",
  "LocalDomains.kind": "`LocalDomains` — policies/local.yaml.",
  "LocalDomains.domains": "Our customers' domains; inbound MX accepts mail for these and nothing else.",
  "LocalDomains.domains[].domain":
    "An exact domain (no wildcard), in Unicode or A-labels; stored as A-labels.",
  "LocalDomains.domains[].deliverTo": "Internal next hop `host[:port]` (the mailbox servers).",
  "LocalDomains.domains[].mtaSts":
    "The MTA-STS policy (RFC 8461) the relays publish for this domain at `https://mta-sts.<domain>/.well-known/mta-sts.txt` (the relay's MTA-STS HTTPS listener, `RELAY_MTA_STS_PORT_HTTPS`); absent: none is served. Its id is derived from the policy text, so `mailconnect policy check` prints the `_mta-sts.<domain>` TXT record to publish whenever it changes.",
  "LocalDomains.domains[].mtaSts.mode":
    "`enforce`, `testing` (senders report but deliver anyway) or `none` (withdraws a published policy); anything else is MTA-STS-INVALID.",
  "LocalDomains.domains[].mtaSts.maxAge":
    "How long senders may cache the policy, as a duration (`7d`, `365d`), published in whole seconds, at most 31557600 s (MTA-STS-INVALID); `enforce` under one day is MTA-STS-MAX-AGE-SHORT (a warning).",
  "LocalDomains.domains[].mtaSts.mx":
    "The domain's public MX host names (the relays' inbound names, not `deliverTo`), or `*.suffix` as the whole leftmost label; required unless mode is `none`. The compiler cannot check that they cover the MX records in DNS: the policy does not know the relays' names.",
  "LocalDomains.domains[].tlsRpt":
    "Where senders send RFC 8460 TLS reports about mail to this domain; absent: no TLS-RPT record. `mailconnect policy check` prints the `_smtp._tls.<domain>` TXT record to publish. Pair it with the relay's report mailbox (`RELAY_TLSRPT_ADDRESS`) or endpoint (`RELAY_TLSRPT_HTTPS_PORT`) to see the reports on the dashboard.",
  "LocalDomains.domains[].tlsRpt.rua":
    "One or more `mailto:<address>` or `https://…` URIs, in order; anything else, or none, is TLS-RPT-INVALID.",
  "ClosedGroup.apiVersion": "Always `mailconnect/v1`.",
  "ClosedGroup.kind": "`ClosedGroup` — policies/groups/<name>.yaml.",
  "ClosedGroup.name": "The group's name; must equal the file name.",
  "ClosedGroup.description": "What the group is for.",
  "ClosedGroup.members": "Member partners; each must use `mtls` both ways (GROUP-MEMBER-NOT-MTLS).",
  "ClosedGroup.localDomains": "Our local domains in the group; they accept mail only from members.",
  "Connector.apiVersion": "Always `mailconnect/v1`.",
  "Connector.kind": "`Connector` — policies/connectors/<name>.yaml.",
  "Connector.name": "The connector's name; must equal the file name.",
  "Connector.description": "Whose servers these are (for reviewers).",
  "Connector.networks":
    "Client networks (`192.0.2.0/24`, `2001:db8:25::/48`, or one address) of the customer's servers; absent: any address, the client certificate decides. Checked on the inbound MX port at MAIL FROM (CONNECTOR-NETWORK-INVALID, CONNECTOR-OPEN-RELAY, CONNECTOR-NETWORK-BROAD).",
  "Connector.clientCertificate":
    "The client certificate the customer's servers must present; with networks, both must match.",
  "Connector.clientCertificate.trust":
    "`pkix` (default): the chain to `ca` and a name in `names`, plus a pin if pins are given; `pins`: a leaf pin alone.",
  "Connector.clientCertificate.names":
    "Accepted certificate names (DNS SANs, wildcards as in certificates); required under `pkix` (CONNECTOR-CERTIFICATE-INCOMPLETE).",
  "Connector.clientCertificate.ca":
    "The CA file (certs/…) that issues the customer's client certificates; required under `pkix` — public roots vouch for anyone.",
  "Connector.clientCertificate.pins":
    "`sha256/<base64 SPKI>` pins of the client certificate's key; any one matches.",
  "Connector.senderDomains":
    "MAIL FROM domains (exact or `*.suffix`) the connector may relay for; never a partner's (CONNECTOR-SENDER-PARTNER). Other senders get the inbound MX rules.",
  "Connector.requireTls":
    "Default true: plaintext sessions from the connector's networks are refused with 530 5.7.0 before MAIL FROM. A client certificate always needs TLS.",
}
