/**
 * Signed bundles for tests and benches: a fresh signing key, a small valid payload, a policy
 * signed as `mailconnect policy publish` would, and the classic bad variants (tampered, foreign
 * key, unsupported schema).
 */
import {
  canonicalize,
  type Envelope,
  generateSigningKeyPair,
  parseSigningKey,
  parseTrustedKey,
  type SigningKey,
  signBundle,
  type TrustedKey,
} from "@mailconnect/bundle"
import { type BundlePayload, CURRENT_SCHEMA, type PolicySet } from "@mailconnect/policy"
import { buildIndex } from "@mailconnect/policy-compiler"
import { PolicyStore, publishBundle } from "@mailconnect/policy-store"
import { Effect } from "effect"
import { partner, policyWith } from "./partners"

export interface TestSigner {
  readonly privatePem: string
  readonly publicPem: string
  readonly keyId: string
  readonly signing: SigningKey
  readonly trusted: TrustedKey
}

export const makeSigner = (): TestSigner => {
  const pair = generateSigningKeyPair()
  return {
    ...pair,
    signing: Effect.runSync(parseSigningKey(pair.privatePem, "test")),
    trusted: Effect.runSync(parseTrustedKey(pair.publicPem, "test")),
  }
}

/** A valid payload; `partnerMode` lets tests tell two bundles' policies apart. */
export const samplePayload = (
  serial: number,
  options: { readonly schema?: number; readonly partnerMode?: "enforce" | "mtls" | "opportunistic" } = {},
): BundlePayload => ({
  schema: options.schema ?? CURRENT_SCHEMA,
  serial,
  createdAt: "2026-11-28T00:00:00.000Z",
  source: { commit: `c${serial}` },
  policy: policyWith(
    [
      partner("bank", {
        tls: {
          mode: options.partnerMode ?? "enforce",
          minVersion: "TLSv1.2",
          verify: { trust: "pkix", names: [], pins: [] },
        },
        inbound: { requireTls: true, requireClientCertificate: false },
      }),
    ],
    { localDomains: [], dsnLanguages: ["en"] },
  ),
  index: { exact: { "bank.example": "bank" }, wildcard: {} },
})

export const signed = (signer: TestSigner, serial: number, options?: Parameters<typeof samplePayload>[1]) =>
  signBundle(samplePayload(serial, options), [signer.signing])

/** `policy` as the payload of bundle `serial`, indexed and signed. */
export const signedPolicy = (signer: TestSigner, policy: PolicySet, serial: number): string => {
  const payload: BundlePayload = {
    schema: CURRENT_SCHEMA,
    serial,
    createdAt: new Date().toISOString(),
    source: { commit: `test-${serial}` },
    policy,
    index: buildIndex(policy),
  }
  return signBundle(payload, [signer.signing])
}

/** Publishes `bytes` as `mailconnect policy publish` would (no force), trusting only `signer`. */
export const publishSigned = (signer: TestSigner, bytes: string) =>
  publishBundle({ bytes, trusted: [signer.trusted], readers: [], force: false }).pipe(
    Effect.provide(PolicyStore.layer),
  )

/** Changes the payload after signing, keeping the stated digest and a canonical envelope. */
export const tampered = (bytes: string): string => {
  const envelope = JSON.parse(bytes) as Envelope
  const payload = envelope.payload.replace('"mode":"enforce"', '"mode":"opportunistic"')
  if (payload === envelope.payload) throw new Error("nothing to tamper with")
  return canonicalize({ ...envelope, payload })
}

/** The digest an envelope states (the key it is stored under). */
export const digestIn = (bytes: string): string => (JSON.parse(bytes) as Envelope).digest
