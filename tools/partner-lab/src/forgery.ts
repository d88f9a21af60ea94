/**
 * Certificates an attacker can make without any partner secret: a partner's *public* key put into
 * a certificate the attacker signs with its own key, with the issuer name and key identifiers
 * copied so that naive chain building (issuer name + key id, no signature check) links them.
 * These are what the pin-smuggling scenarios present.
 */
import type { CertificateAuthority, IssuedCertificate, KeyPair } from "@mailconnect/test-pki"
import { generateKeyPair, issuedCertificate, x509 } from "@mailconnect/test-pki"

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const
const DAY = 86_400_000

const serial = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(15))).toString("hex")

const pem = (cert: x509.X509Certificate): string => `${cert.toString("pem")}\n`

/**
 * The attacker's own leaf for `name`, naming `claimedIssuer` as its issuer (and that key as its
 * authority key id) although the attacker's key signed it.
 */
const attackerLeaf = async (
  name: string,
  claimedIssuer: { subject: string; keyPair: KeyPair },
  attacker: KeyPair,
): Promise<x509.X509Certificate> =>
  x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${name}, O=attacker`,
    issuer: claimedIssuer.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    publicKey: attacker.keys.publicKey,
    signingKey: attacker.keys.privateKey,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
      await x509.SubjectKeyIdentifierExtension.create(attacker.keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(claimedIssuer.keyPair.keys.publicKey),
    ],
  })

/**
 * A partner's genuine self-signed certificate the way `openssl req -x509` makes it (CA:TRUE, no
 * key usage): what `trust: pins` partners typically have on file.
 */
export const opensslStyleSelfSigned = async (name: string): Promise<IssuedCertificate> => {
  const keyPair = await generateKeyPair()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    keys: keyPair.keys,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, false),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
      await x509.SubjectKeyIdentifierExtension.create(keyPair.keys.publicKey),
    ],
  })
  return issuedCertificate(cert, keyPair, [name], "")
}

/**
 * What the attacker's server presents: its own leaf first, then the certificate carrying the pin.
 *
 * `trust: pins`: the partner's genuine self-signed certificate (pinned) appended after the
 * attacker's leaf, which claims to be issued by it.
 */
export const smuggleBehindLeaf = async (
  name: string,
  genuine: IssuedCertificate,
): Promise<IssuedCertificate> => {
  const attacker = await generateKeyPair()
  const leaf = await attackerLeaf(name, { subject: genuine.subject, keyPair: genuine.keyPair }, attacker)
  return issuedCertificate(leaf, attacker, [name], genuine.certPem)
}

/**
 * `pkix` with pins: a leaf for the name that a CA the policy trusts really issued (a rogue or
 * compromised CA), followed by a forged "CA certificate" with that CA's name and key id but the
 * partner's pinned public key — it is on no path OpenSSL verifies.
 */
export const smuggleBesideValidChain = async (
  name: string,
  rogueCa: CertificateAuthority,
  genuine: IssuedCertificate,
): Promise<IssuedCertificate> => {
  const issued = await rogueCa.issueServer({ names: [name] })
  const attacker = await generateKeyPair()
  const forged = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: rogueCa.subject,
    issuer: "CN=attacker",
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    publicKey: genuine.keyPair.keys.publicKey,
    signingKey: attacker.keys.privateKey,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(rogueCa.keyPair.keys.publicKey),
    ],
  })
  return { ...issued, chainPem: issued.certPem + pem(forged) }
}
