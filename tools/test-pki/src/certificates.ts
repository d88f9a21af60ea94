/**
 * A test PKI minted at run time: root CA, optional intermediates, server and client certificates
 * with chosen names, validity and key (renewal with the same key or a new one), self-signed
 * certificates. Everything stays in memory as PEM; `writePemFiles` puts it on disk for the local stack.
 */
import type { webcrypto } from "node:crypto"
import { isIP } from "node:net"
import { ECDSA_P256, generateKeyPair, type KeyPair, x509 } from "./keys"
import { spkiPin } from "./pins"

const DAY = 86_400_000

export type Validity = "valid" | "expired" | "not-yet-valid"

export interface CertificateOptions {
  /** Subject alternative names; IP literals become IP SANs. The first one is the CN unless given. */
  readonly names: ReadonlyArray<string>
  readonly commonName?: string
  readonly organization?: string
  readonly validity?: Validity
  readonly notBefore?: Date
  readonly notAfter?: Date
  /** Reuse a key pair: a renewal with the same key (same SPKI pin). Default: a new key. */
  readonly keyPair?: KeyPair
  /** Reference instant for `validity`; default the wall clock. */
  readonly now?: Date
  /**
   * Extended key usages of a server or client certificate; default the one its kind implies
   * (serverAuth or clientAuth). `"none"` leaves the extension out (any usage).
   */
  readonly extendedKeyUsage?: ReadonlyArray<"serverAuth" | "clientAuth"> | "none"
}

export interface IssuedCertificate {
  /** The leaf alone. */
  readonly certPem: string
  /** Leaf followed by the intermediates up to (not including) the root: what a server presents. */
  readonly chainPem: string
  readonly keyPem: string
  readonly keyPair: KeyPair
  /** `sha256/<base64 SPKI>` */
  readonly pin: string
  readonly serialNumber: string
  readonly subject: string
  readonly issuer: string
  readonly names: ReadonlyArray<string>
  readonly notBefore: Date
  readonly notAfter: Date
}

export interface CertificateAuthority extends IssuedCertificate {
  readonly issueServer: (options: CertificateOptions) => Promise<IssuedCertificate>
  readonly issueClient: (options: CertificateOptions) => Promise<IssuedCertificate>
  readonly issueIntermediate: (commonName: string) => Promise<CertificateAuthority>
}

const period = (options: {
  validity?: Validity
  notBefore?: Date
  notAfter?: Date
  now?: Date
}): { notBefore: Date; notAfter: Date } => {
  const now = (options.now ?? new Date()).getTime()
  const byValidity = {
    valid: { notBefore: new Date(now - DAY), notAfter: new Date(now + 90 * DAY) },
    expired: { notBefore: new Date(now - 100 * DAY), notAfter: new Date(now - DAY) },
    "not-yet-valid": { notBefore: new Date(now + 10 * DAY), notAfter: new Date(now + 100 * DAY) },
  }[options.validity ?? "valid"]
  return {
    notBefore: options.notBefore ?? byValidity.notBefore,
    notAfter: options.notAfter ?? byValidity.notAfter,
  }
}

const escapeRdn = (value: string): string => value.replace(/([,+"\\<>;=])/g, "\\$1")

const distinguishedName = (commonName: string, organization?: string): string =>
  `CN=${escapeRdn(commonName)}${organization ? `, O=${escapeRdn(organization)}` : ""}`

const subjectAltNames = (names: ReadonlyArray<string>) =>
  new x509.SubjectAlternativeNameExtension(
    names.map((name) => ({ type: isIP(name) ? ("ip" as const) : ("dns" as const), value: name })),
  )

const randomSerial = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[0] = bytes[0]! & 0x7f
  return Buffer.from(bytes).toString("hex")
}

/** The issued-certificate record of a generated certificate; `parentsPem` follows it in `chainPem`. */
export const issuedCertificate = (
  cert: x509.X509Certificate,
  keyPair: KeyPair,
  names: ReadonlyArray<string>,
  parentsPem: string,
): IssuedCertificate => {
  const certPem = `${cert.toString("pem")}\n`
  return {
    certPem,
    chainPem: certPem + parentsPem,
    keyPem: keyPair.privateKeyPem,
    keyPair,
    pin: spkiPin(certPem),
    serialNumber: cert.serialNumber,
    subject: cert.subject,
    issuer: cert.issuer,
    names,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  }
}

type Usage = "server" | "client" | "ca"

const EXTENDED_KEY_USAGE = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
} as const

const leafExtensions = async (
  usage: Usage,
  names: ReadonlyArray<string>,
  keys: webcrypto.CryptoKeyPair,
  extendedKeyUsage?: CertificateOptions["extendedKeyUsage"],
) => {
  const extensions: Array<x509.Extension> = [await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)]
  if (usage === "ca") {
    extensions.push(
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    )
    return extensions
  }
  extensions.push(
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  )
  const usages = extendedKeyUsage ?? [usage === "server" ? "serverAuth" : "clientAuth"]
  if (usages !== "none")
    extensions.push(
      new x509.ExtendedKeyUsageExtension(
        usages.map((u) => EXTENDED_KEY_USAGE[u]),
        false,
      ),
    )
  if (names.length > 0) extensions.push(subjectAltNames(names))
  return extensions
}

/** `leafChain`: the certificates a leaf of this authority presents after itself (root excluded). */
const makeAuthority = (issued: IssuedCertificate, leafChain: string): CertificateAuthority => {
  const issue = async (usage: Usage, options: CertificateOptions): Promise<IssuedCertificate> => {
    const keyPair = options.keyPair ?? (await generateKeyPair())
    const commonName = options.commonName ?? options.names[0] ?? "unnamed"
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: distinguishedName(commonName, options.organization),
      issuer: issued.subject,
      ...period(options),
      publicKey: keyPair.keys.publicKey,
      signingKey: issued.keyPair.keys.privateKey,
      signingAlgorithm: ECDSA_P256,
      extensions: [
        ...(await leafExtensions(usage, options.names, keyPair.keys, options.extendedKeyUsage)),
        await x509.AuthorityKeyIdentifierExtension.create(issued.keyPair.keys.publicKey),
      ],
    })
    return issuedCertificate(cert, keyPair, options.names, leafChain)
  }
  return {
    ...issued,
    issueServer: (options) => issue("server", options),
    issueClient: (options) => issue("client", options),
    issueIntermediate: async (commonName) => {
      const child = await issue("ca", { names: [], commonName })
      return makeAuthority(child, child.certPem + leafChain)
    },
  }
}

export const createRootCa = async (
  options: { commonName?: string; organization?: string; now?: Date } = {},
): Promise<CertificateAuthority> => {
  const keyPair = await generateKeyPair()
  const now = (options.now ?? new Date()).getTime()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: distinguishedName(options.commonName ?? "mailconnect test root", options.organization),
    keys: keyPair.keys,
    notBefore: new Date(now - 10 * DAY),
    notAfter: new Date(now + 3650 * DAY),
    signingAlgorithm: ECDSA_P256,
    extensions: await leafExtensions("ca", [], keyPair.keys),
  })
  return makeAuthority(issuedCertificate(cert, keyPair, [], ""), "")
}

/** A certificate signed by its own key: what a partner without a CA (trust: pins) presents. */
export const createSelfSigned = async (options: CertificateOptions): Promise<IssuedCertificate> => {
  const keyPair = options.keyPair ?? (await generateKeyPair())
  const commonName = options.commonName ?? options.names[0] ?? "unnamed"
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: distinguishedName(commonName, options.organization),
    keys: keyPair.keys,
    ...period(options),
    signingAlgorithm: ECDSA_P256,
    extensions: await leafExtensions("server", options.names, keyPair.keys, options.extendedKeyUsage),
  })
  return issuedCertificate(cert, keyPair, options.names, "")
}

/**
 * A leaf certificate (CA:FALSE) made to sign certificates anyway: what an attacker holding any
 * valid leaf key would try. For tests that every link's CA flag is checked.
 */
export const misuseAsAuthority = (leaf: IssuedCertificate): CertificateAuthority =>
  makeAuthority(leaf, leaf.chainPem)
