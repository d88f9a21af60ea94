/**
 * The failure taxonomy of DESIGN §5 as data: one stable code per cause, whether it defers or
 * bounces, its SMTP-style status, and what the operator or partner can do — in English and
 * German. Logs, DSNs, bull-board job logs, metrics and docs/failure-codes.md all read this table,
 * so a cause is named the same way everywhere.
 */
export const FAILURE_CODES = [
  "CONNECT_REFUSED",
  "CONNECT_TIMEOUT",
  "DNS_NO_ROUTE",
  "STARTTLS_NOT_OFFERED",
  "PRE_TLS_REFUSED",
  "TLS_PROTOCOL_REJECTED",
  "TLS_HANDSHAKE_FAILED",
  "CERT_UNTRUSTED",
  "CERT_EXPIRED",
  "CERT_NAME_MISMATCH",
  "CERT_PIN_MISMATCH",
  "CLIENT_CERT_REJECTED",
  "DANE_TLSA_MISMATCH",
  "DNSSEC_BOGUS",
  "MTA_STS_MX_MISMATCH",
  "REQUIRETLS_UNMET",
  "SMTP_TRANSIENT",
  "SMTP_PERMANENT",
  "EXPIRED",
  "OPERATOR_BOUNCE",
  "MESSAGE_LOST",
] as const

export type FailureCode = (typeof FAILURE_CODES)[number]

export interface Text {
  readonly en: string
  readonly de: string
}

export interface FailureCause {
  readonly code: FailureCode
  /** defer: retried on the timeline; bounce: NDR at once; final: the NDR itself. */
  readonly retry: "defer" | "bounce" | "final"
  /** Enhanced status (RFC 3463); "as received" causes carry the server's own. */
  readonly status: string
  readonly meaning: Text
  readonly typicalCause: Text
  readonly action: Text
}

const cause = (c: FailureCause): FailureCause => c

export const FAILURE_CAUSES: Readonly<Record<FailureCode, FailureCause>> = {
  CONNECT_REFUSED: cause({
    code: "CONNECT_REFUSED",
    retry: "defer",
    status: "4.4.1",
    meaning: {
      en: "The recipient's mail server refused the connection.",
      de: "Der Mailserver des Empfängers hat die Verbindung abgelehnt.",
    },
    typicalCause: {
      en: "Server down, or a firewall rejecting our relay's address.",
      de: "Server ausgefallen oder eine Firewall weist die Adresse unseres Relays ab.",
    },
    action: {
      en: "Partner: check that the server runs and that our relay addresses are allowed through the firewall.",
      de: "Partner: prüfen, ob der Server läuft und unsere Relay-Adressen in der Firewall freigegeben sind.",
    },
  }),
  CONNECT_TIMEOUT: cause({
    code: "CONNECT_TIMEOUT",
    retry: "defer",
    status: "4.4.1",
    meaning: {
      en: "The recipient's mail server did not answer in time.",
      de: "Der Mailserver des Empfängers hat nicht rechtzeitig geantwortet.",
    },
    typicalCause: {
      en: "A firewall silently dropping packets, or an overloaded server.",
      de: "Eine Firewall verwirft Pakete stillschweigend, oder der Server ist überlastet.",
    },
    action: {
      en: "Partner: check firewall rules for our relay addresses and the server's load.",
      de: "Partner: Firewall-Regeln für unsere Relay-Adressen und die Last des Servers prüfen.",
    },
  }),
  DNS_NO_ROUTE: cause({
    code: "DNS_NO_ROUTE",
    retry: "defer",
    status: "4.4.1",
    meaning: {
      en: "No mail server could be found for the recipient domain.",
      de: "Für die Empfängerdomain wurde kein Mailserver gefunden.",
    },
    typicalCause: {
      en: "Missing or broken MX/A records, or a DNS outage.",
      de: "Fehlende oder fehlerhafte MX/A-Einträge oder ein DNS-Ausfall.",
    },
    action: {
      en: "Partner: publish MX records; operator: or set route.servers in the partner policy.",
      de: "Partner: MX-Einträge veröffentlichen; Betrieb: oder route.servers in der Partner-Policy setzen.",
    },
  }),
  STARTTLS_NOT_OFFERED: cause({
    code: "STARTTLS_NOT_OFFERED",
    retry: "defer",
    status: "4.7.4",
    meaning: {
      en: "The recipient's server did not offer STARTTLS, and the agreement requires encryption.",
      de: "Der Server des Empfängers bot kein STARTTLS an, die Vereinbarung verlangt aber Verschlüsselung.",
    },
    typicalCause: {
      en: "TLS disabled on the server, or a man-in-the-middle stripping STARTTLS.",
      de: "TLS auf dem Server deaktiviert, oder ein Angreifer entfernt STARTTLS (Man-in-the-Middle).",
    },
    action: {
      en: "Partner: enable STARTTLS. If it is enabled, the path to the server is being tampered with: investigate.",
      de: "Partner: STARTTLS aktivieren. Ist es aktiviert, wird die Verbindung manipuliert: untersuchen.",
    },
  }),
  PRE_TLS_REFUSED: cause({
    code: "PRE_TLS_REFUSED",
    retry: "defer",
    status: "4.4.1",
    meaning: {
      en: "Under enforced TLS, the server refused us before TLS began (greeting or EHLO with 4xx/5xx).",
      de: "Bei erzwungenem TLS hat der Server uns vor Beginn von TLS abgewiesen (Begrüßung oder EHLO mit 4xx/5xx).",
    },
    typicalCause: {
      en: "Server overloaded or blocking our relay, or an on-path attacker answering in its place: nothing before TLS is authenticated, so the mail waits and other servers are tried instead of bouncing.",
      de: "Server überlastet oder sperrt unser Relay, oder ein Angreifer auf dem Weg antwortet an seiner Stelle: vor TLS ist nichts authentisiert, daher wartet die Mail und andere Server werden versucht, statt sie abzuweisen.",
    },
    action: {
      en: "Partner: check why the server refuses our relay's address (blocklist, rate limit, EHLO support). Operator: compare with a probe from another network.",
      de: "Partner: prüfen, warum der Server die Adresse unseres Relays abweist (Sperrliste, Ratenbegrenzung, EHLO-Unterstützung). Betreiber: mit einer Prüfung aus einem anderen Netz vergleichen.",
    },
  }),
  TLS_PROTOCOL_REJECTED: cause({
    code: "TLS_PROTOCOL_REJECTED",
    retry: "defer",
    status: "4.7.5",
    meaning: {
      en: "The server only speaks a TLS version below the agreed minimum.",
      de: "Der Server spricht nur eine TLS-Version unterhalb des vereinbarten Minimums.",
    },
    typicalCause: {
      en: "An outdated server allowing only TLS 1.0/1.1.",
      de: "Ein veralteter Server, der nur TLS 1.0/1.1 erlaubt.",
    },
    action: {
      en: "Partner: enable TLS 1.2 or 1.3. Operator: lower minVersion only with a legacyTls acknowledgement in the agreement.",
      de: "Partner: TLS 1.2 oder 1.3 aktivieren. Betrieb: minVersion nur mit legacyTls-Vermerk in der Vereinbarung senken.",
    },
  }),
  TLS_HANDSHAKE_FAILED: cause({
    code: "TLS_HANDSHAKE_FAILED",
    retry: "defer",
    status: "4.7.5",
    meaning: {
      en: "The TLS handshake failed (no shared cipher, or the connection broke during it).",
      de: "Der TLS-Handshake ist fehlgeschlagen (keine gemeinsame Cipher-Suite oder Verbindungsabbruch).",
    },
    typicalCause: {
      en: "Cipher configuration mismatch or a broken TLS stack.",
      de: "Unpassende Cipher-Konfiguration oder ein fehlerhafter TLS-Stack.",
    },
    action: {
      en: "Partner and operator: compare cipher settings; run `mailconnect probe` against the server.",
      de: "Partner und Betrieb: Cipher-Einstellungen abgleichen; `mailconnect probe` gegen den Server ausführen.",
    },
  }),
  CERT_UNTRUSTED: cause({
    code: "CERT_UNTRUSTED",
    retry: "defer",
    status: "4.7.5",
    meaning: {
      en: "The server's certificate does not chain to a trusted CA.",
      de: "Das Zertifikat des Servers führt zu keiner vertrauenswürdigen CA.",
    },
    typicalCause: {
      en: "Self-signed certificate, missing intermediate, or a private CA not in the policy.",
      de: "Selbstsigniertes Zertifikat, fehlendes Zwischenzertifikat oder private CA, die nicht in der Policy steht.",
    },
    action: {
      en: "Partner: send the full chain. Operator: add the partner's CA (verify.ca) or pin it (trust: pins).",
      de: "Partner: vollständige Kette ausliefern. Betrieb: CA des Partners eintragen (verify.ca) oder pinnen (trust: pins).",
    },
  }),
  CERT_EXPIRED: cause({
    code: "CERT_EXPIRED",
    retry: "defer",
    status: "4.7.5",
    meaning: {
      en: "The server's certificate has expired (or is not yet valid).",
      de: "Das Zertifikat des Servers ist abgelaufen (oder noch nicht gültig).",
    },
    typicalCause: { en: "A missed certificate renewal.", de: "Eine versäumte Zertifikatserneuerung." },
    action: {
      en: "Partner: renew the certificate; mail waits and is delivered once it is valid.",
      de: "Partner: Zertifikat erneuern; die Mail wartet und wird zugestellt, sobald es gültig ist.",
    },
  }),
  CERT_NAME_MISMATCH: cause({
    code: "CERT_NAME_MISMATCH",
    retry: "defer",
    status: "4.7.5",
    meaning: {
      en: "The server's certificate is not issued for any accepted name.",
      de: "Das Zertifikat des Servers lautet auf keinen der akzeptierten Namen.",
    },
    typicalCause: {
      en: "A new server or certificate with other names, or interception.",
      de: "Ein neuer Server oder ein Zertifikat mit anderen Namen, oder eine Abhörmaßnahme.",
    },
    action: {
      en: "Partner: confirm the new name; operator: add it to verify.names after confirmation.",
      de: "Partner: den neuen Namen bestätigen; Betrieb: ihn danach in verify.names aufnehmen.",
    },
  }),
  CERT_PIN_MISMATCH: cause({
    code: "CERT_PIN_MISMATCH",
    retry: "defer",
    status: "4.7.5",
    meaning: {
      en: "The server's key matches none of the pinned keys.",
      de: "Der Schlüssel des Servers entspricht keinem der hinterlegten Pins.",
    },
    typicalCause: {
      en: "The partner rotated its key without announcing it, or interception.",
      de: "Der Partner hat den Schlüssel unangekündigt gewechselt, oder eine Abhörmaßnahme.",
    },
    action: {
      en: "Operator: confirm the new key with the partner's technical contact, then add the suggested pin.",
      de: "Betrieb: den neuen Schlüssel mit dem technischen Kontakt des Partners bestätigen, dann den vorgeschlagenen Pin eintragen.",
    },
  }),
  CLIENT_CERT_REJECTED: cause({
    code: "CLIENT_CERT_REJECTED",
    retry: "defer",
    status: "4.7.5",
    meaning: {
      en: "The partner's server refused our client certificate.",
      de: "Der Server des Partners hat unser Client-Zertifikat abgelehnt.",
    },
    typicalCause: {
      en: "Our certificate was renewed and the partner does not trust the new one yet.",
      de: "Unser Zertifikat wurde erneuert und der Partner vertraut dem neuen noch nicht.",
    },
    action: {
      en: "Operator: send the partner our current client certificate; partner: install it.",
      de: "Betrieb: dem Partner unser aktuelles Client-Zertifikat senden; Partner: es einspielen.",
    },
  }),
  DANE_TLSA_MISMATCH: cause({
    code: "DANE_TLSA_MISMATCH",
    retry: "defer",
    status: "4.7.5",
    meaning: {
      en: "The server's certificate matches none of the DANE (TLSA) records its DNSSEC-signed zone publishes.",
      de: "Das Zertifikat des Servers passt zu keinem der DANE-Einträge (TLSA), die seine DNSSEC-signierte Zone veröffentlicht.",
    },
    typicalCause: {
      en: "The recipient replaced its certificate or key without updating its TLSA records first, or a man-in-the-middle presenting its own certificate.",
      de: "Der Empfänger hat Zertifikat oder Schlüssel gewechselt, ohne vorher seine TLSA-Einträge anzupassen, oder ein Angreifer legt sein eigenes Zertifikat vor.",
    },
    action: {
      en: "Recipient: publish TLSA records for the new key before deploying it (RFC 7671 §8.1), or restore the old certificate. Operator: compare with `mailconnect probe <domain>`.",
      de: "Empfänger: TLSA-Einträge für den neuen Schlüssel veröffentlichen, bevor er eingesetzt wird (RFC 7671 §8.1), oder das alte Zertifikat wiederherstellen. Betrieb: mit `mailconnect probe <Domain>` vergleichen.",
    },
  }),
  DNSSEC_BOGUS: cause({
    code: "DNSSEC_BOGUS",
    retry: "defer",
    status: "4.4.3",
    meaning: {
      en: "The validating resolver found the recipient domain's DNSSEC signatures invalid (bogus).",
      de: "Der validierende Resolver hat die DNSSEC-Signaturen der Empfängerdomain als ungültig erkannt (bogus).",
    },
    typicalCause: {
      en: "Expired signatures or a broken key rollover at the recipient's DNS provider, or forged DNS answers.",
      de: "Abgelaufene Signaturen oder ein fehlerhafter Schlüsselwechsel beim DNS-Anbieter des Empfängers, oder gefälschte DNS-Antworten.",
    },
    action: {
      en: "Recipient: fix the zone's DNSSEC signing. Operator: check the validating resolver's logs and clock; mail waits on the timeline.",
      de: "Empfänger: die DNSSEC-Signierung der Zone reparieren. Betrieb: Protokoll und Uhr des validierenden Resolvers prüfen; die Mail wartet gemäß Zeitplan.",
    },
  }),
  MTA_STS_MX_MISMATCH: cause({
    code: "MTA_STS_MX_MISMATCH",
    retry: "defer",
    status: "4.7.5",
    meaning: {
      en: "The recipient domain's MTA-STS policy (enforce) lists none of the mail servers DNS returned.",
      de: "Die MTA-STS-Policy (enforce) der Empfängerdomain nennt keinen der Mailserver, die das DNS liefert.",
    },
    typicalCause: {
      en: "The recipient moved its mail servers without updating its MTA-STS policy, or forged MX records.",
      de: "Der Empfänger hat seine Mailserver umgezogen, ohne die MTA-STS-Policy anzupassen, oder gefälschte MX-Einträge.",
    },
    action: {
      en: "Recipient: add the new MX hosts to the `mx:` lines of its policy and change the `id` in `_mta-sts` TXT.",
      de: "Empfänger: die neuen MX-Hosts in den `mx:`-Zeilen der Policy eintragen und die `id` im `_mta-sts`-TXT-Eintrag ändern.",
    },
  }),
  REQUIRETLS_UNMET: cause({
    code: "REQUIRETLS_UNMET",
    retry: "bounce",
    status: "5.7.30",
    meaning: {
      en: "The message was sent with REQUIRETLS (RFC 8689), and no next hop could carry it as that requires: none is authenticated (partner enforce/mtls, DANE, MTA-STS enforce), or none advertised REQUIRETLS after STARTTLS.",
      de: "Die Nachricht wurde mit REQUIRETLS (RFC 8689) eingeliefert, und kein nächster Hop konnte sie so übernehmen: keiner ist authentifiziert (Partner enforce/mtls, DANE, MTA-STS enforce) oder keiner bot nach STARTTLS REQUIRETLS an.",
    },
    typicalCause: {
      en: "The recipient domain publishes neither DANE nor an enforced MTA-STS policy and is no enforced partner, or its servers do not support REQUIRETLS.",
      de: "Die Empfängerdomain veröffentlicht weder DANE noch eine MTA-STS-Policy im Modus enforce und ist kein Partner mit enforce, oder ihre Server unterstützen REQUIRETLS nicht.",
    },
    action: {
      en: "Sender: send without REQUIRETLS if the content allows it. Recipient: publish DANE or MTA-STS enforce and enable REQUIRETLS on its mail servers.",
      de: "Absender: ohne REQUIRETLS senden, wenn der Inhalt es zulässt. Empfänger: DANE oder MTA-STS enforce veröffentlichen und REQUIRETLS auf den Mailservern aktivieren.",
    },
  }),
  SMTP_TRANSIENT: cause({
    code: "SMTP_TRANSIENT",
    retry: "defer",
    status: "as received",
    meaning: {
      en: "The recipient's server answered with a temporary error.",
      de: "Der Server des Empfängers antwortete mit einem vorübergehenden Fehler.",
    },
    typicalCause: {
      en: "Greylisting, a full mailbox or server load.",
      de: "Greylisting, ein volles Postfach oder Serverlast.",
    },
    action: {
      en: "None usually; the message is retried. See the server's reply.",
      de: "Meist keine; die Nachricht wird erneut versucht. Siehe die Antwort des Servers.",
    },
  }),
  SMTP_PERMANENT: cause({
    code: "SMTP_PERMANENT",
    retry: "bounce",
    status: "as received",
    meaning: {
      en: "The recipient's server refused the message permanently.",
      de: "Der Server des Empfängers hat die Nachricht endgültig abgelehnt.",
    },
    typicalCause: {
      en: "Unknown recipient or a policy rejection.",
      de: "Unbekannter Empfänger oder eine Ablehnung aus Richtliniengründen.",
    },
    action: {
      en: "Sender: check the address; see the server's reply.",
      de: "Absender: die Adresse prüfen; siehe die Antwort des Servers.",
    },
  }),
  EXPIRED: cause({
    code: "EXPIRED",
    retry: "final",
    status: "5.4.7",
    meaning: {
      en: "The message could not be delivered within the retry period.",
      de: "Die Nachricht konnte innerhalb der Wiederholungsfrist nicht zugestellt werden.",
    },
    typicalCause: {
      en: "The last cause named persisted for the whole period.",
      de: "Die zuletzt genannte Ursache bestand während der ganzen Frist.",
    },
    action: {
      en: "Sender: send again once the partner has fixed the cause.",
      de: "Absender: erneut senden, sobald der Partner die Ursache behoben hat.",
    },
  }),
  OPERATOR_BOUNCE: cause({
    code: "OPERATOR_BOUNCE",
    retry: "final",
    status: "5.0.0",
    meaning: {
      en: "The relay's operator returned the message to its sender.",
      de: "Der Betreiber des Relays hat die Nachricht an den Absender zurückgegeben.",
    },
    typicalCause: {
      en: "The partner cannot receive it for a while; the operator's reason is in the details.",
      de: "Der Partner kann sie länger nicht empfangen; der Grund des Betreibers steht in den Einzelheiten.",
    },
    action: {
      en: "Sender: read the reason given; send again later or by another way.",
      de: "Absender: den angegebenen Grund lesen; später oder auf anderem Weg erneut senden.",
    },
  }),
  MESSAGE_LOST: cause({
    code: "MESSAGE_LOST",
    retry: "final",
    status: "5.3.0",
    meaning: {
      en: "The message's content was gone from the relay's queue before it could be delivered.",
      de: "Der Inhalt der Nachricht fehlte in der Warteschlange des Relays, bevor sie zugestellt werden konnte.",
    },
    typicalCause: {
      en: "Its body was removed from Redis: memory eviction (maxmemory-policy other than noeviction), a restore from an older copy, or someone deleting keys.",
      de: "Ihr Inhalt wurde aus Redis entfernt: Verdrängung bei Speichermangel (maxmemory-policy nicht noeviction), eine Wiederherstellung aus einer älteren Kopie oder gelöschte Schlüssel.",
    },
    action: {
      en: "Sender: send the message again. Operator: set maxmemory-policy noeviction and find what removed the key.",
      de: "Absender: die Nachricht erneut senden. Betreiber: maxmemory-policy noeviction setzen und klären, was den Schlüssel entfernt hat.",
    },
  }),
}

export const isFailureCode = (value: string): value is FailureCode =>
  (FAILURE_CODES as ReadonlyArray<string>).includes(value)

export * from "./reason"
