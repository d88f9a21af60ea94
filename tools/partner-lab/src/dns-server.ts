/**
 * A tiny authoritative DNS server on loopback UDP for MX/A/AAAA/TXT look-ups in tests: names it
 * does not know get NXDOMAIN, known names without the asked type get an empty NOERROR answer.
 */
import { createSocket, type RemoteInfo } from "node:dgram"
import { once } from "node:events"
import type { AddressInfo } from "node:net"
import * as dnsPacket from "dns-packet"

export type LabRecord =
  | { readonly type: "A"; readonly address: string }
  | { readonly type: "AAAA"; readonly address: string }
  | { readonly type: "MX"; readonly preference: number; readonly exchange: string }
  /**
   * One TXT record. A string longer than 255 bytes is sent as consecutive character-strings of
   * 255 (as a zone file would); a list is sent as those character-strings, to test concatenation.
   */
  | { readonly type: "TXT"; readonly data: string | ReadonlyArray<string> }

export interface LabDns {
  readonly host: string
  readonly port: number
  /** `host:port`, as `dns.Resolver#setServers` and `RELAY_DNS_SERVERS` take it. */
  readonly server: string
  /** Replaces the records of a name. */
  readonly set: (name: string, records: ReadonlyArray<LabRecord>) => void
  readonly remove: (name: string) => void
  /** Questions received, as `NAME TYPE`. */
  readonly queries: Array<string>
  readonly stop: () => Promise<void>
}

const key = (name: string) => name.toLowerCase().replace(/\.$/, "")

/** The character-strings of a TXT record: at most 255 bytes each. */
const characterStrings = (data: string | ReadonlyArray<string>): Array<Buffer> => {
  if (typeof data !== "string") return data.map((part) => Buffer.from(part))
  const bytes = Buffer.from(data)
  const parts: Array<Buffer> = []
  for (let at = 0; at < bytes.length; at += 255) parts.push(bytes.subarray(at, at + 255))
  return parts.length > 0 ? parts : [Buffer.alloc(0)]
}

export const startLabDns = async (host = "127.0.0.1"): Promise<LabDns> => {
  const zone = new Map<string, ReadonlyArray<LabRecord>>()
  const queries: Array<string> = []
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4")

  const answer = (query: dnsPacket.Packet, from: RemoteInfo) => {
    const question = query.questions?.[0]
    if (!question) return
    queries.push(`${question.name} ${question.type}`)
    const records = zone.get(key(question.name))
    const answers: Array<dnsPacket.Answer> = []
    for (const record of records ?? []) {
      if (record.type !== question.type) continue
      if (record.type === "MX") {
        answers.push({
          type: "MX",
          name: question.name,
          ttl: 60,
          data: { preference: record.preference, exchange: record.exchange },
        })
      } else if (record.type === "TXT") {
        answers.push({ type: "TXT", name: question.name, ttl: 60, data: characterStrings(record.data) })
      } else {
        answers.push({ type: record.type, name: question.name, ttl: 60, data: record.address })
      }
    }
    const response = dnsPacket.encode({
      id: query.id ?? 0,
      type: "response",
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (records ? 0 : 3),
      questions: [question],
      answers,
    })
    socket.send(response, from.port, from.address)
  }

  socket.on("message", (message, from) => {
    try {
      answer(dnsPacket.decode(message), from)
    } catch {
      // A malformed datagram is not a question: drop it, as a real server would.
    }
  })
  socket.on("error", () => {})
  socket.bind(0, host)
  await once(socket, "listening")
  const { port } = socket.address() as AddressInfo
  return {
    host,
    port,
    server: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    set: (name, records) => void zone.set(key(name), records),
    remove: (name) => void zone.delete(key(name)),
    queries,
    stop: () => new Promise((resolve) => socket.close(() => resolve())),
  }
}
