/**
 * SecureDns against servers that do not behave: silence, a closed port, REFUSED, forged answers
 * (wrong id, wrong question, from another port), a truncated UDP answer. The real lab stands in
 * where a good server is needed after a bad one.
 */
import { createSocket, type Socket } from "node:dgram"
import { once } from "node:events"
import type { AddressInfo } from "node:net"
import { type DnssecLab, startDnssecLab } from "@mailconnect/test-dnssec"
import * as dnsPacket from "dns-packet"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { DnsLookupFailed } from "../src"
import { type FakeServer, responseFor, startFakeServer } from "./fake-server"
import { answerOf, ask, errorOf } from "./harness"

/** Where nothing good will come: a short timeout, so that the test is quick. */
const FAST = { timeout: "200 millis", attempts: 2 } as const
/** Where an answer is expected: room for a loaded machine. */
const PATIENT = { timeout: "2 seconds", attempts: 2 } as const

const mx = (name: string, exchange: string): dnsPacket.Answer => ({
  type: "MX",
  name,
  ttl: 60,
  data: { preference: 10, exchange },
})

let lab: DnssecLab
const fakes: Array<FakeServer> = []
const fake = async (...args: Parameters<typeof startFakeServer>) => {
  const server = await startFakeServer(...args)
  fakes.push(server)
  return server
}

/** A bound UDP socket that reads every query and answers none. */
let silent: Socket
let silentServer: string

beforeAll(async () => {
  lab = await startDnssecLab({
    zones: [
      {
        name: "secure.example",
        signing: "signed",
        records: [{ name: "@", type: "MX", preference: 10, exchange: "mx.secure.example" }],
      },
    ],
  })
  silent = createSocket("udp4")
  silent.on("message", () => {})
  silent.bind(0, "127.0.0.1")
  await once(silent, "listening")
  silentServer = `127.0.0.1:${(silent.address() as AddressInfo).port}`
})
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.stop()))
})
afterAll(async () => {
  await new Promise<void>((resolve) => silent?.close(() => resolve()))
  await lab?.stop()
})

describe("a server that never answers", () => {
  it("fails with DnsLookupFailed (timeout) after the timeout and one retry", async () => {
    const started = Date.now()
    const error = errorOf(await ask([silentServer], (dns) => dns.mx("secure.example"), FAST))
    const elapsed = Date.now() - started
    expect(error).toBeInstanceOf(DnsLookupFailed)
    expect(error).toMatchObject({
      _tag: "DnsLookupFailed",
      name: "secure.example",
      type: "MX",
      server: silentServer,
      reason: "timeout",
      attempts: [
        { server: silentServer, transport: "udp", reason: "timeout" },
        { server: silentServer, transport: "udp", reason: "timeout" },
      ],
    })
    expect(elapsed).toBeGreaterThanOrEqual(380)
    expect(elapsed).toBeLessThan(2_000)
  })

  it("is passed over for the next server in the list", async () => {
    const answer = answerOf(
      await ask([silentServer, lab.resolver.server], (dns) => dns.mx("secure.example"), {
        timeout: "600 millis",
      }),
    )
    expect(answer).toMatchObject({ secure: true, server: lab.resolver.server })
  })
})

describe("servers that answer no", () => {
  it("a closed port: DnsLookupFailed (network, ECONNREFUSED), not a timeout", async () => {
    const closed = createSocket("udp4")
    closed.bind(0, "127.0.0.1")
    await once(closed, "listening")
    const server = `127.0.0.1:${(closed.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const error = errorOf(await ask([server], (dns) => dns.mx("secure.example"), FAST))
    expect(error).toMatchObject({ _tag: "DnsLookupFailed", reason: "network", detail: "ECONNREFUSED" })
  })

  it("REFUSED: DnsLookupFailed (refused), not retried; the next server answers", async () => {
    const refusing = await fake(({ query, reply }) => reply(responseFor(query, [], { rcode: 5 })))
    const error = errorOf(await ask([refusing.server], (dns) => dns.mx("secure.example"), FAST))
    expect(error).toMatchObject({ _tag: "DnsLookupFailed", reason: "refused", server: refusing.server })
    expect(refusing.exchanges).toHaveLength(1)
    const answer = answerOf(
      await ask([refusing.server, lab.resolver.server], (dns) => dns.mx("secure.example"), PATIENT),
    )
    expect(answer.server).toBe(lab.resolver.server)
  })
})

describe("forged answers", () => {
  const forged = (query: dnsPacket.DecodedPacket) => [mx(query.questions![0]!.name, "evil.example")]

  it("a wrong id, a wrong name, a wrong type, an answer from another port: all ignored", async () => {
    const forger = createSocket("udp4")
    forger.bind(0, "127.0.0.1")
    await once(forger, "listening")
    const server = await fake(({ query, reply, from }) => {
      const question = query.questions![0]!
      reply(
        responseFor(query, forged(query), {
          id: ((query.id ?? 0) + 1) % 65_536,
          flags: dnsPacket.AUTHENTIC_DATA,
        }),
      )
      reply(responseFor(query, [mx("other.example", "evil.example")], { name: "other.example" }))
      reply(
        dnsPacket.encode({
          id: query.id ?? 0,
          type: "response",
          flags: dnsPacket.AUTHENTIC_DATA,
          questions: [{ ...question, type: "A" }],
          answers: [{ type: "A", name: question.name, data: "203.0.113.66" }],
        }),
      )
      // The right id and question, but not from the server's address and port.
      forger.send(
        responseFor(query, forged(query), { flags: dnsPacket.AUTHENTIC_DATA }),
        from.port,
        from.address,
      )
      // Garbage.
      reply(Buffer.from([1, 2, 3]))
      // And then the real answer.
      setTimeout(() => reply(responseFor(query, [mx(question.name, "mx.secure.example")])), 50)
    })
    const answer = answerOf(await ask([server.server], (dns) => dns.mx("secure.example"), PATIENT))
    expect(answer.records).toEqual([{ preference: 10, exchange: "mx.secure.example" }])
    expect(answer.secure).toBe(false)
    await new Promise<void>((resolve) => forger.close(() => resolve()))
  })

  it("forgeries alone give a timeout, never an answer", async () => {
    const server = await fake(({ query, reply }) => {
      reply(
        responseFor(query, forged(query), {
          id: ((query.id ?? 0) + 7) % 65_536,
          flags: dnsPacket.AUTHENTIC_DATA,
        }),
      )
      reply(
        responseFor(query, forged(query), { name: "secure.example.evil", flags: dnsPacket.AUTHENTIC_DATA }),
      )
    })
    const error = errorOf(await ask([server.server], (dns) => dns.mx("secure.example"), FAST))
    expect(error).toMatchObject({ _tag: "DnsLookupFailed", reason: "timeout" })
    expect(server.exchanges).toHaveLength(2)
  })

  it("every query has a fresh random id and source port, and asks with RD and DO", async () => {
    const server = await fake(() => {})
    await ask([server.server], (dns) => dns.mx("secure.example"), { timeout: "50 millis", attempts: 4 })
    const ids = new Set(server.exchanges.map((e) => e.query.id))
    const ports = new Set(server.exchanges.map((e) => e.from.port))
    expect(server.exchanges).toHaveLength(4)
    expect(ids.size).toBeGreaterThan(1)
    expect(ports.size).toBe(4)
    const query = server.exchanges[0]!.query
    expect(query.flag_rd).toBe(true)
    const opt = query.additionals?.find((a) => a.type === "OPT")
    expect(opt?.type === "OPT" && opt.flag_do).toBe(true)
    expect(opt?.type === "OPT" && opt.udpPayloadSize).toBe(1232)
  })
})

describe("truncation", () => {
  it("a TC answer over UDP is asked again over TCP, and the TCP answer is taken", async () => {
    const server = await fake(({ transport, query, reply }) => {
      const name = query.questions![0]!.name
      if (transport === "udp") reply(responseFor(query, [], { flags: dnsPacket.TRUNCATED_RESPONSE }))
      else reply(responseFor(query, [mx(name, "mx.secure.example")], { flags: dnsPacket.AUTHENTIC_DATA }))
    })
    const answer = answerOf(await ask([server.server], (dns) => dns.mx("secure.example"), PATIENT))
    expect(server.exchanges.map((e) => e.transport)).toEqual(["udp", "tcp"])
    expect(answer).toMatchObject({ secure: true, records: [{ exchange: "mx.secure.example" }] })
  })
})

describe("IPv6 servers", () => {
  it("[::1]:port is asked over udp6", async (context) => {
    let server: FakeServer
    try {
      server = await fake(
        ({ query, reply }) => reply(responseFor(query, [mx(query.questions![0]!.name, "mx6.example")])),
        "::1",
      )
    } catch {
      context.skip()
      return
    }
    const answer = answerOf(await ask([server.server], (dns) => dns.mx("secure.example"), PATIENT))
    expect(answer).toMatchObject({ server: server.server, records: [{ exchange: "mx6.example" }] })
  })
})
