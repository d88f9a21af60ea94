/**
 * A local stand-in for HashiCorp Vault's transit engine, for the external-signer tests: an HTTP
 * server on loopback answering `POST /v1/transit/sign/<key>` (`{"input": base64}`, header
 * `X-Vault-Token`) with `{"data": {"signature": "vault:v1:<base64>"}}`, and `GET
 * /v1/transit/keys/<key>` with the raw public key (`data.keys."1".public_key`), as Vault does for
 * an ed25519 key. The private keys live in this process only — the runner that compiles gets a URL
 * and a token, which is the point. Each request is recorded (key, SHA-256 of the input, answer).
 */
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto"
import { once } from "node:events"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface TransitRequest {
  readonly key: string
  readonly inputSha256: string
  readonly status: number
}

export interface TransitSigner {
  readonly url: string
  readonly token: string
  readonly requests: ReadonlyArray<TransitRequest>
  readonly stop: () => Promise<void>
}

export const startTransitSigner = async (
  keys: Readonly<Record<string, string>>,
  token = "hvs.local-test-token",
) => {
  const requests: Array<TransitRequest> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const answer = (status: number, body: unknown, key = "", input: Uint8Array = new Uint8Array()) => {
        requests.push({ key, inputSha256: createHash("sha256").update(input).digest("hex"), status })
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(body))
      }
      const read = /^\/v1\/transit\/keys\/([\w-]+)$/.exec(req.url ?? "")
      if (req.method === "GET" && read) {
        if (req.headers["x-vault-token"] !== token)
          return answer(403, { errors: ["permission denied"] }, read[1])
        const pem = keys[read[1]!]
        if (!pem) return answer(404, { errors: [] }, read[1])
        // Vault hands out an ed25519 key as its 32 raw bytes, base64.
        const spki = createPublicKey(createPrivateKey(pem)).export({ type: "spki", format: "der" })
        const public_key = spki.subarray(spki.length - 32).toString("base64")
        return answer(
          200,
          { data: { type: "ed25519", latest_version: 1, keys: { "1": { public_key } } } },
          read[1],
        )
      }
      const match = /^\/v1\/transit\/sign\/([\w-]+)$/.exec(req.url ?? "")
      if (req.method !== "POST" || !match) return answer(404, { errors: ["no handler for route"] })
      if (req.headers["x-vault-token"] !== token)
        return answer(403, { errors: ["permission denied"] }, match[1])
      const pem = keys[match[1]!]
      if (!pem) return answer(400, { errors: ["signing key not found"] }, match[1])
      let input: Buffer
      try {
        input = Buffer.from(
          (JSON.parse(Buffer.concat(chunks).toString()) as { input: string }).input,
          "base64",
        )
      } catch {
        return answer(400, { errors: ["invalid request"] }, match[1])
      }
      const signature = sign(null, input, createPrivateKey(pem)).toString("base64")
      answer(200, { data: { signature: `vault:v1:${signature}`, key_version: 1 } }, match[1], input)
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  } satisfies TransitSigner
}

/**
 * The sign command of docs/operations.md ("Signing outside CI"), for Vault's HTTP API: the
 * payload from stdin, base64 in a JSON body, the signature out of the answer.
 */
export const VAULT_SIGN_COMMAND =
  'printf \'{"input":"%s"}\' "$(base64 -w0)" | curl -sSf -H "X-Vault-Token: $VAULT_TOKEN" --data @- "$VAULT_ADDR/v1/transit/sign/mailconnect" | jq -er .data.signature'
