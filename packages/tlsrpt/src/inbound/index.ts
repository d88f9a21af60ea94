/**
 * @mailconnect/tlsrpt/inbound — receiving RFC 8460 reports for our own domains: decoded and
 * validated from an HTTPS POST (`https.ts`) or a report mail (`mail.ts`), stored once per
 * report in Redis with bounded retention (`store.ts`), read back by the dashboard.
 */
export * from "./decode"
export * from "./errors"
export * from "./https"
export * from "./mail"
export * from "./receive"
export * from "./store"
export * from "./summary"
