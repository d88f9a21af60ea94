/**
 * @mailconnect/tlsrpt — RFC 8460 SMTP TLS Reporting. Sending: every outbound TLS session counted
 * fleet-wide per UTC day, recipient domain and policy (`counters.ts`), and once a day one relay
 * builds each domain's report and sends it to the `rua` of its `_smtp._tls` record (`send.ts`).
 * Receiving: reports for our own domains, validated and kept for the dashboard (`./inbound`).
 */
export * from "./address"
export * from "./build"
export * from "./counters"
export * from "./errors"
export * from "./mail"
export * from "./ports"
export * from "./post"
export * from "./record"
export * from "./report"
export * from "./result-type"
export * from "./schema"
export * from "./send"
export * from "./session"
