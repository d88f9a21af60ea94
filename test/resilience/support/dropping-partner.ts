/**
 * A partner server that takes the whole message after DATA and then drops the connection before
 * its final reply, for chosen messages' first attempts — the one case where at-least-once
 * delivery cannot avoid a duplicate (the partner may have kept the message; we cannot know).
 * It keeps every message it received in full, as a real partner might.
 */
import { once } from "node:events"
import type { AddressInfo, Socket } from "node:net"
import type { CertificateAuthority } from "@mailconnect/test-pki"
import { SMTPServer } from "smtp-server"
import type { Received } from "./load"

export interface DroppingPartner {
  readonly host: string
  readonly port: number
  readonly name: string
  /** Every message received in full, including those whose final reply was never sent. */
  readonly received: Array<Received>
  readonly drops: () => number
  readonly stop: () => Promise<void>
}

interface ConnectionLike {
  readonly id: string
  readonly _socket: Socket
}

export const startDroppingPartner = async (
  issuer: CertificateAuthority,
  shouldDrop: (body: string, seenBefore: boolean) => boolean,
): Promise<DroppingPartner> => {
  const name = "dropper.lab.test"
  const certificate = await issuer.issueServer({ names: [name] })
  const received: Array<Received> = []
  const seen = new Set<string>()
  let drops = 0
  const server: SMTPServer = new SMTPServer({
    name,
    key: certificate.keyPem,
    cert: certificate.chainPem,
    minVersion: "TLSv1.2",
    disableReverseLookup: true,
    authOptional: true,
    logger: false,
    closeTimeout: 200,
    onData(stream, session, callback) {
      const chunks: Array<Buffer> = []
      stream.on("data", (c: Buffer) => chunks.push(c))
      stream.on("end", () => {
        const body = Buffer.concat(chunks)
        const text = body.toString("latin1")
        received.push({ mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "", body })
        const key = /^X-MC-Load-Id: (.*)$/im.exec(text)?.[1] ?? text
        const before = seen.has(key)
        seen.add(key)
        if (shouldDrop(text, before)) {
          drops++
          // smtp-server keeps its sessions in `connections`; the session id is the connection id.
          const connections = (server as unknown as { connections: Set<ConnectionLike> }).connections
          for (const c of connections) if (c.id === session.id) c._socket.destroy()
          return
        }
        callback(null, "2.0.0 Ok: queued")
      })
    },
  })
  server.on("error", () => {})
  server.listen(0, "127.0.0.1")
  await once(server.server, "listening")
  const { port } = server.server.address() as AddressInfo
  return {
    host: "127.0.0.1",
    port,
    name,
    received,
    drops: () => drops,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
