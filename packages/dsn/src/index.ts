export { encodeHeaderValue, quotedPrintable, rfc5322Date } from "./mime"
export * from "./report"
