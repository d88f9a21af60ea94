/**
 * @mailconnect/smtp-outbound — delivers mail to partners' servers over SMTP, with TLS per policy.
 *
 * What it does: resolves next hops (route servers, else MX, else A/AAAA), connects, EHLO,
 * STARTTLS, verifies the peer per policy (opportunistic / enforce / mtls, DESIGN §5), runs the mail
 * transaction through nodemailer's SMTPConnection, reuses verified sessions, and records TLS
 * evidence and a tagged failure cause for every attempt.
 *
 * What it trusts: the effective policy handed in (already verified by the bundle layer); public
 * roots or the partner CA the policy embeds; our client certificates from relay configuration
 * (RELAY_CLIENT_CERTS), never from the bundle. Nothing a server says is trusted until the TLS
 * session is verified: under enforce/mtls no MAIL FROM and no message byte precede verification.
 *
 * What it touches: outbound TCP to next hops (port 25 or route ports), DNS via the configured
 * resolvers (RELAY_DNS_SERVERS), the client-certificate directory (read only). The only package
 * that imports nodemailer or node:net/node:tls for delivery.
 */
export * from "./authority"
export * from "./certificate"
export * from "./client-certificates"
export * from "./delivery"
export * from "./destination"
export * from "./diagnosis"
export * from "./errors"
export type * from "./evidence"
export * from "./next-hops"
export * from "./options"
export * from "./probe"
export * from "./reason"
export * from "./require-tls"
export type { ClientCertificate } from "./session"
export * from "./standards"
export * from "./standards-binding"
export type { Message, RecipientResult } from "./transaction"
export * from "./verify"
