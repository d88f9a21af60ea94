/**
 * @mailconnect/test-pki — certificates for tests, the partner lab and the local stack, minted at
 * run time with @peculiar/x509 over Node's webcrypto (ECDSA P-256). Never use these outside tests.
 */
export * from "./certificates"
export * from "./files"
export { generateKeyPair, type KeyPair, x509 } from "./keys"
export * from "./pins"
