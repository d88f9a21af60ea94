/**
 * Bundles signed outside the process (an external signer: Vault transit, a KMS): the envelope is
 * byte-identical to one signed with the key in hand, and every signature is checked against its
 * claimed public key before an envelope is written — another key's signature, a truncated one or
 * one over other bytes is refused.
 */
import { sign } from "node:crypto"
import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import {
  assembleBundle,
  generateSigningKeyPair,
  parseSigningKey,
  parseTrustedKey,
  payloadToSign,
  signBundle,
  verifyBundle,
} from "../src"

const pair = () => {
  const generated = generateSigningKeyPair()
  return {
    signing: Effect.runSync(parseSigningKey(generated.privatePem, "test")),
    trusted: Effect.runSync(parseTrustedKey(generated.publicPem, "test")),
  }
}

const payload = { schema: 1, serial: 9, policy: { partners: { bank: { mode: "enforce" } } } }
const assemble = (...args: Parameters<typeof assembleBundle>) =>
  Effect.runSync(Effect.either(assembleBundle(...args)))

describe("external signatures", () => {
  it("gives the same envelope as signing with the key in hand", () => {
    const key = pair()
    const { text, bytes } = payloadToSign(payload)
    const signature = sign(null, bytes, key.signing.key)
    const assembled = assemble(text, [{ key: key.trusted, signature }])
    expect(assembled).toEqual(Either.right(signBundle(payload, [key.signing])))
    const verified = Effect.runSync(Effect.either(verifyBundle(Either.getOrThrow(assembled), [key.trusted])))
    expect(Either.isRight(verified)).toBe(true)
  })

  it("refuses a signature by another key than the one named", () => {
    const named = pair()
    const other = pair()
    const { text, bytes } = payloadToSign(payload)
    const result = assemble(text, [{ key: named.trusted, signature: sign(null, bytes, other.signing.key) }])
    expect(Either.isLeft(result) && result.left).toMatchObject({
      _tag: "BundleSignatureInvalid",
      keyId: named.trusted.keyId,
    })
  })

  it("refuses a signature over other bytes, a truncated one and none at all", () => {
    const key = pair()
    const { text } = payloadToSign(payload)
    const otherBytes = payloadToSign({ ...payload, serial: 10 }).bytes
    const overOther = sign(null, otherBytes, key.signing.key)
    for (const signature of [overOther, overOther.subarray(0, 63), Buffer.alloc(0), Buffer.alloc(64)]) {
      const result = assemble(text, [{ key: key.trusted, signature }])
      expect(Either.isLeft(result) && result.left._tag).toBe("BundleSignatureInvalid")
    }
    const none = assemble(text, [])
    expect(Either.isLeft(none) && none.left._tag).toBe("BundleUnsigned")
  })
})
