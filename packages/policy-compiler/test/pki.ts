/**
 * Certificates for compiler tests, minted at test time with fixed validity dates so that
 * expiry diagnostics (and their golden lines) do not depend on the day the tests run.
 * Private keys stay in memory and are never written anywhere.
 */
import "reflect-metadata"
import { webcrypto } from "node:crypto"
import * as x509 from "@peculiar/x509"

x509.cryptoProvider.set(webcrypto as never)

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const

export interface TestCertificate {
  readonly pem: string
  /** `sha256/<base64 SPKI>` */
  readonly pin: string
}

const pinOf = async (keys: webcrypto.CryptoKeyPair): Promise<string> => {
  const spki = await webcrypto.subtle.exportKey("spki", keys.publicKey)
  const digest = await webcrypto.subtle.digest("SHA-256", spki)
  return `sha256/${Buffer.from(digest).toString("base64")}`
}

export const mintCertificate = async (options: {
  readonly commonName: string
  readonly isCA: boolean
  readonly notBefore: string
  readonly notAfter: string
}): Promise<TestCertificate> => {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=${options.commonName}`,
    keys,
    notBefore: new Date(options.notBefore),
    notAfter: new Date(options.notAfter),
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(options.isCA, undefined, true)],
  })
  return { pem: `${certificate.toString("pem")}\n`, pin: await pinOf(keys) }
}

/** The certificate files every scenario can refer to under certs/. */
export const mintTestCertificates = async () => {
  const [ca, expiring, expired, leaf] = await Promise.all([
    mintCertificate({
      commonName: "Valid Test CA",
      isCA: true,
      notBefore: "2026-01-01",
      notAfter: "2031-01-01",
    }),
    mintCertificate({
      commonName: "Expiring Test CA",
      isCA: true,
      notBefore: "2025-01-01",
      notAfter: "2026-12-10",
    }),
    mintCertificate({
      commonName: "Expired Test CA",
      isCA: true,
      notBefore: "2024-01-01",
      notAfter: "2026-11-01",
    }),
    mintCertificate({
      commonName: "mx.partner.example",
      isCA: false,
      notBefore: "2026-01-01",
      notAfter: "2028-01-01",
    }),
  ])
  return { ca, expiring, expired, leaf }
}

export type TestCertificates = Awaited<ReturnType<typeof mintTestCertificates>>

export const attachmentsOf = (certs: TestCertificates): Map<string, string> =>
  new Map([
    ["certs/ca.pem", certs.ca.pem],
    ["certs/expiring-ca.pem", certs.expiring.pem],
    ["certs/expired-ca.pem", certs.expired.pem],
    ["certs/leaf.pem", certs.leaf.pem],
    [
      "certs/garbage.pem",
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    ],
    ["certs/empty.pem", "this file holds no certificate\n"],
  ])
