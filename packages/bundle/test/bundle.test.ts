import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import {
  canonicalize,
  generateSigningKeyPair,
  parseSigningKey,
  parseTrustedKey,
  signBundle,
  type TrustedKey,
  verifyBundle,
} from "../src"

const pair = () => {
  const generated = generateSigningKeyPair()
  const signing = Effect.runSync(parseSigningKey(generated.privatePem, "test"))
  const trusted = Effect.runSync(parseTrustedKey(generated.publicPem, "test"))
  return { signing, trusted }
}

const payload = { schema: 1, serial: 7, policy: { partners: { b: { x: [1, "ü", null] }, a: true } } }
const verify = (bytes: string, keys: ReadonlyArray<TrustedKey>) =>
  Effect.runSync(Effect.either(verifyBundle(bytes, keys)))

describe("canonical JSON", () => {
  it("sorts keys at every depth and drops whitespace", () => {
    expect(canonicalize({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    )
  })
  it("is independent of key insertion order", () => {
    expect(canonicalize({ a: 1, b: 2 })).toBe(canonicalize({ b: 2, a: 1 }))
  })
  it("drops undefined members and refuses non-finite numbers", () => {
    expect(canonicalize({ a: undefined, b: 1 })).toBe('{"b":1}')
    expect(() => canonicalize({ a: Number.NaN })).toThrow()
  })
})

describe("signed bundle", () => {
  const key = pair()

  it("verifies what it signed and returns the payload", () => {
    const bytes = signBundle(payload, [key.signing])
    const result = verify(bytes, [key.trusted])
    expect(Either.isRight(result)).toBe(true)
    if (Either.isRight(result)) {
      expect(result.right.payload).toEqual(payload)
      expect(result.right.keyId).toBe(key.signing.keyId)
      expect(result.right.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    }
  })

  it("is byte-identical when signed twice", () => {
    expect(signBundle(payload, [key.signing])).toBe(signBundle({ ...payload }, [key.signing]))
  })

  it("refuses any changed byte", () => {
    const bytes = signBundle(payload, [key.signing])
    let refused = 0
    for (let i = 0; i < bytes.length; i++) {
      const code = bytes.charCodeAt(i)
      const flipped =
        bytes.slice(0, i) + String.fromCharCode(code === 0x61 ? 0x62 : 0x61) + bytes.slice(i + 1)
      if (flipped === bytes) continue
      const result = verify(flipped, [key.trusted])
      expect(Either.isLeft(result), `byte ${i} changed but verified`).toBe(true)
      refused++
    }
    expect(refused).toBeGreaterThan(100)
  })

  it("names a changed payload with re-computed digest as a bad signature", () => {
    const envelope = JSON.parse(signBundle(payload, [key.signing]))
    const forged = signBundle({ ...payload, serial: 8 }, [pair().signing])
    const forgedEnvelope = JSON.parse(forged)
    const spliced = canonicalize({
      ...envelope,
      payload: forgedEnvelope.payload,
      digest: forgedEnvelope.digest,
    })
    const result = verify(spliced, [key.trusted])
    expect(Either.isLeft(result) && result.left._tag).toBe("BundleSignatureInvalid")
  })

  it("refuses a bundle signed by a key it does not trust", () => {
    const result = verify(signBundle(payload, [pair().signing]), [key.trusted])
    expect(Either.isLeft(result) && result.left._tag).toBe("BundleUnknownKey")
  })

  it("refuses a bundle without signatures", () => {
    const result = verify(signBundle(payload, []), [key.trusted])
    expect(Either.isLeft(result) && result.left._tag).toBe("BundleUnsigned")
  })

  it("refuses a changed payload as a digest mismatch", () => {
    const envelope = JSON.parse(signBundle(payload, [key.signing]))
    const changed = canonicalize({
      ...envelope,
      payload: envelope.payload.replace('"serial":7', '"serial":9'),
    })
    const result = verify(changed, [key.trusted])
    expect(Either.isLeft(result) && result.left._tag).toBe("BundleDigestMismatch")
  })

  it("refuses bytes that are not an envelope", () => {
    for (const junk of ["", "{}", "[]", "null", '{"format":"mailconnect-bundle/1"}']) {
      const result = verify(junk, [key.trusted])
      expect(Either.isLeft(result) && result.left._tag).toBe("BundleMalformed")
    }
  })

  it("accepts during key rotation: signed by old and new, trusted new only", () => {
    const next = pair()
    const bytes = signBundle(payload, [key.signing, next.signing])
    expect(Either.isRight(verify(bytes, [next.trusted]))).toBe(true)
    expect(Either.isRight(verify(bytes, [key.trusted, next.trusted]))).toBe(true)
  })

  it("refuses a non-ed25519 key", () => {
    const result = Effect.runSync(
      Effect.either(parseSigningKey("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----", "x")),
    )
    expect(Either.isLeft(result) && result.left._tag).toBe("SigningKeyInvalid")
  })
})
