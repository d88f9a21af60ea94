/**
 * SPKI pins as policies write them (the one definition lives in @mailconnect/x509); this also
 * takes PEM text or DER bytes, as tests have them.
 */
import { X509Certificate } from "node:crypto"
import { spkiPin as pinOf } from "@mailconnect/x509"

export const spkiPin = (certificate: string | Buffer | X509Certificate): string =>
  pinOf(certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate))
