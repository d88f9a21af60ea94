/** ECDSA P-256 key pairs through Node's webcrypto: fast enough to mint a whole PKI per test file. */
import "reflect-metadata"
import { webcrypto } from "node:crypto"
import * as x509 from "@peculiar/x509"

x509.cryptoProvider.set(webcrypto as never)

export const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const

export interface KeyPair {
  readonly keys: webcrypto.CryptoKeyPair
  /** PKCS#8 PEM, as `tls.createSecureContext({ key })` takes it. */
  readonly privateKeyPem: string
}

const toPem = (label: string, der: ArrayBuffer): string => {
  const base64 = Buffer.from(der).toString("base64")
  const lines = base64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`
}

export const generateKeyPair = async (): Promise<KeyPair> => {
  const keys = (await webcrypto.subtle.generateKey(ECDSA_P256, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)
  return { keys, privateKeyPem: toPem("PRIVATE KEY", pkcs8) }
}

export { x509 }
