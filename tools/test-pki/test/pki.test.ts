import { X509Certificate } from "node:crypto"
import { once } from "node:events"
import type { AddressInfo } from "node:net"
import * as tls from "node:tls"
import { describe, expect, it } from "vitest"
import { createRootCa, createSelfSigned, spkiPin } from "../src/index"

const handshake = async (server: { chainPem: string; keyPem: string }, ca: string, servername: string) => {
  const listener = tls.createServer(
    { cert: server.chainPem, key: server.keyPem, minVersion: "TLSv1.2" },
    (s) => s.end(),
  )
  listener.listen(0, "127.0.0.1")
  await once(listener, "listening")
  const { port } = listener.address() as AddressInfo
  try {
    const socket = tls.connect({ host: "127.0.0.1", port, servername, ca, rejectUnauthorized: false })
    await once(socket, "secureConnect")
    const result = { authorized: socket.authorized, error: socket.authorizationError as unknown as string }
    socket.destroy()
    return result
  } finally {
    listener.close()
  }
}

describe("test PKI", () => {
  it("issues a chain Node's TLS accepts through an intermediate", async () => {
    const root = await createRootCa()
    const intermediate = await root.issueIntermediate("lab issuing CA")
    const leaf = await intermediate.issueServer({ names: ["mx.partner.test", "127.0.0.1"] })
    expect(await handshake(leaf, root.certPem, "mx.partner.test")).toEqual({ authorized: true, error: null })
    const cert = new X509Certificate(leaf.certPem)
    expect(cert.subjectAltName).toBe("DNS:mx.partner.test, IP Address:127.0.0.1")
    expect(cert.checkIssued(new X509Certificate(intermediate.certPem))).toBe(true)
  })

  it("mints expired and not-yet-valid certificates", async () => {
    const root = await createRootCa()
    const expired = await root.issueServer({ names: ["old.test"], validity: "expired" })
    const future = await root.issueServer({ names: ["new.test"], validity: "not-yet-valid" })
    expect((await handshake(expired, root.certPem, "old.test")).error).toBe("CERT_HAS_EXPIRED")
    expect((await handshake(future, root.certPem, "new.test")).error).toBe("CERT_NOT_YET_VALID")
  })

  it("renews with the same key (same pin) or a new key (new pin)", async () => {
    const root = await createRootCa()
    const first = await root.issueServer({ names: ["mx.test"] })
    const renewed = await root.issueServer({ names: ["mx.test"], keyPair: first.keyPair })
    const rotated = await root.issueServer({ names: ["mx.test"] })
    expect(renewed.pin).toBe(first.pin)
    expect(renewed.serialNumber).not.toBe(first.serialNumber)
    expect(rotated.pin).not.toBe(first.pin)
    expect(first.pin).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=$/)
  })

  it("self-signed certificates are not trusted by the root, and pins are SPKI digests", async () => {
    const root = await createRootCa()
    const self = await createSelfSigned({ names: ["self.test"] })
    expect((await handshake(self, root.certPem, "self.test")).error).toBe("DEPTH_ZERO_SELF_SIGNED_CERT")
    expect(spkiPin(self.certPem)).toBe(self.pin)
  })

  it("client certificates carry clientAuth", async () => {
    const root = await createRootCa()
    const client = await root.issueClient({ names: ["relay.example.net"], commonName: "relay-1" })
    expect(new X509Certificate(client.certPem).subject).toBe("CN=relay-1")
    expect(new X509Certificate(client.certPem).checkIssued(new X509Certificate(root.certPem))).toBe(true)
  })
})
