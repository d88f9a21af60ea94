/**
 * DNS messages over dns-packet: the query (RD, EDNS0 with DO), and whether a message is the
 * answer to it — the checks an off-path forger must pass: the random id, QR, opcode QUERY, and
 * the question section byte for byte (case aside). Pure.
 */
import * as dnsPacket from "dns-packet"
import { DnsInvalidName, type ExtendedDnsError, type QueryType } from "./errors"

/** RFC 6891 / DNS Flag Day 2020: large enough for most signed answers, small enough not to fragment. */
export const UDP_PAYLOAD_SIZE = 1232

const HEADER_LENGTH = 12
const EDE_OPTION = 15

export type Rcode = "NOERROR" | "SERVFAIL" | "NXDOMAIN" | "REFUSED" | "OTHER"

export interface Query {
  readonly id: number
  readonly name: string
  readonly type: QueryType
  readonly bytes: Buffer
  /** The question section as sent, lower-cased, to compare answers with. */
  readonly question: Buffer
}

/** `Mx.Example.` → `mx.example`, or why it cannot be asked. */
export const queryName = (name: string): string | DnsInvalidName => {
  const canonical = name.toLowerCase().replace(/\.$/, "")
  if (canonical.length === 0) return new DnsInvalidName({ name, problem: "empty" })
  if (canonical.length > 253) return new DnsInvalidName({ name, problem: "too-long" })
  const labels = canonical.split(".")
  if (labels.some((l) => l.length === 0)) return new DnsInvalidName({ name, problem: "empty-label" })
  if (labels.some((l) => l.length > 63)) return new DnsInvalidName({ name, problem: "label-too-long" })
  // Host names and the `_25._tcp` of TLSA owners: A-labels, digits, hyphen, underscore.
  if (labels.some((l) => !/^[a-z0-9_-]+$/.test(l)))
    return new DnsInvalidName({ name, problem: "invalid-character" })
  return canonical
}

const lowerAscii = (bytes: Buffer): Buffer =>
  Buffer.from(bytes.map((b) => (b >= 0x41 && b <= 0x5a ? b + 32 : b)))

export const makeQuery = (
  id: number,
  name: string,
  type: QueryType,
  udpPayloadSize = UDP_PAYLOAD_SIZE,
): Query => {
  const bytes = dnsPacket.encode({
    id,
    type: "query",
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
    additionals: [
      {
        type: "OPT",
        name: ".",
        udpPayloadSize,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: dnsPacket.DNSSEC_OK,
        flag_do: true,
        options: [],
      },
    ],
  })
  const questionLength =
    dnsPacket.encodingLength({ questions: [{ name, type, class: "IN" }] }) - HEADER_LENGTH
  return {
    id,
    name,
    type,
    bytes,
    question: lowerAscii(bytes.subarray(HEADER_LENGTH, HEADER_LENGTH + questionLength)),
  }
}

export interface Response {
  readonly packet: dnsPacket.DecodedPacket
  readonly rcode: Rcode
  readonly authenticated: boolean
  readonly truncated: boolean
  readonly rawRcode: number
}

const RCODES: Readonly<Record<number, Rcode>> = { 0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED" }

/**
 * The response to `query`, or undefined for anything else — a forgery, a stale answer to an
 * earlier query, garbage. Callers keep waiting for the real one.
 */
export const responseTo = (query: Query, message: Buffer): Response | undefined => {
  if (message.length < HEADER_LENGTH + query.question.length) return undefined
  const id = message.readUInt16BE(0)
  const flags = message.readUInt16BE(2)
  const isResponse = (flags & 0x8000) !== 0
  const opcode = (flags >> 11) & 0xf
  const questionCount = message.readUInt16BE(4)
  if (id !== query.id || !isResponse || opcode !== 0 || questionCount !== 1) return undefined
  const question = lowerAscii(message.subarray(HEADER_LENGTH, HEADER_LENGTH + query.question.length))
  if (!question.equals(query.question)) return undefined
  let packet: dnsPacket.DecodedPacket
  try {
    packet = dnsPacket.decode(message)
  } catch {
    return undefined
  }
  const rawRcode = flags & 0xf
  return {
    packet,
    rcode: RCODES[rawRcode] ?? "OTHER",
    rawRcode,
    authenticated: (flags & dnsPacket.AUTHENTIC_DATA) !== 0,
    truncated: (flags & dnsPacket.TRUNCATED_RESPONSE) !== 0,
  }
}

/** The resolver's reason for a failure (RFC 8914), when it gave one. */
export const extendedError = (packet: dnsPacket.DecodedPacket): ExtendedDnsError | undefined => {
  for (const additional of packet.additionals ?? []) {
    if (additional.type !== "OPT") continue
    for (const option of additional.options ?? []) {
      const data = option.data
      if (option.code === (EDE_OPTION as number) && data && data.length >= 2)
        return { code: data.readUInt16BE(0), text: data.subarray(2).toString("utf8") }
    }
  }
  return undefined
}
