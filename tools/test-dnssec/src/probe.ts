/**
 * One DNS question over UDP, for the lab's own readiness checks (is knotd serving the new serial,
 * does unbound validate the lab root). Not a client for tests: that is `@mailconnect/dns-secure`.
 */
import { randomInt } from "node:crypto"
import { createSocket } from "node:dgram"
import * as dnsPacket from "dns-packet"

export interface ProbeAnswer {
  /** `NOERROR`, `SERVFAIL`, `NXDOMAIN`, … */
  readonly rcode: string
  readonly authenticated: boolean
  readonly answers: ReadonlyArray<dnsPacket.Answer>
}

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"]

export const probe = (
  host: string,
  port: number,
  name: string,
  type: dnsPacket.RecordType,
  timeoutMs = 300,
): Promise<ProbeAnswer | undefined> =>
  new Promise((resolve) => {
    const id = randomInt(0, 65_536)
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4")
    const done = (answer: ProbeAnswer | undefined) => {
      clearTimeout(timer)
      socket.close()
      resolve(answer)
    }
    const timer = setTimeout(() => done(undefined), timeoutMs)
    socket.on("error", () => done(undefined))
    socket.on("message", (message) => {
      try {
        const packet = dnsPacket.decode(message)
        if (packet.id !== id) return
        const flags = message.readUInt16BE(2)
        done({
          rcode: RCODES[flags & 0xf] ?? `rcode ${flags & 0xf}`,
          authenticated: (flags & dnsPacket.AUTHENTIC_DATA) !== 0,
          answers: packet.answers ?? [],
        })
      } catch {
        // Not an answer to this question.
      }
    })
    const query = dnsPacket.encode({
      id,
      type: "query",
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type, class: "IN" }],
      additionals: [
        {
          type: "OPT",
          name: ".",
          udpPayloadSize: 1232,
          extendedRcode: 0,
          ednsVersion: 0,
          flags: dnsPacket.DNSSEC_OK,
          flag_do: true,
          options: [],
        },
      ],
    })
    // Connected: a port nobody listens on yet fails at once (ECONNREFUSED) instead of timing out.
    socket.connect(port, host, () => socket.send(query))
  })

export const soaSerial = (answer: ProbeAnswer | undefined): number | undefined => {
  const soa = answer?.answers.find((a) => a.type === "SOA")
  return soa?.type === "SOA" ? soa.data.serial : undefined
}
