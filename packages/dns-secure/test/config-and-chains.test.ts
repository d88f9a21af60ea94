/**
 * The configuration (server entries, RELAY_DNS_SERVERS), names refused before any query, and
 * CNAME chains the lab's unbound never returns: cut short, looping.
 */
import * as dnsPacket from "dns-packet"
import { Effect, Either } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { DnsServerInvalid, parseServer, SecureDns } from "../src"
import { type FakeServer, responseFor, startFakeServer } from "./fake-server"
import { answerOf, ask, errorOf } from "./harness"

describe("server entries", () => {
  it.each([
    ["127.0.0.1", { host: "127.0.0.1", port: 53, family: 4, label: "127.0.0.1:53" }],
    ["127.0.0.1:5353", { host: "127.0.0.1", port: 5353, family: 4, label: "127.0.0.1:5353" }],
    ["[::1]:5353", { host: "::1", port: 5353, family: 6, label: "[::1]:5353" }],
    ["[::1]", { host: "::1", port: 53, family: 6, label: "[::1]:53" }],
    ["::1", { host: "::1", port: 53, family: 6, label: "[::1]:53" }],
  ])("%s", (entry, expected) => {
    expect(parseServer(entry)).toEqual(expected)
  })

  it.each(["localhost", "127.0.0.1:0", "127.0.0.1:70000", "[127.0.0.1]:53", "::1:53x", "1.2.3.4:53:53", ""])(
    "refuses %j",
    (entry) => {
      expect(parseServer(entry)).toBeInstanceOf(DnsServerInvalid)
    },
  )

  it("a layer with a bad entry, or none, does not build", async () => {
    expect(errorOf(await ask(["127.0.0.1", "resolver.example"], (dns) => dns.mx("a.example")))).toMatchObject(
      {
        _tag: "DnsServerInvalid",
        entry: "resolver.example",
      },
    )
    expect(errorOf(await ask([], (dns) => dns.mx("a.example")))).toMatchObject({ _tag: "DnsServerInvalid" })
  })

  it("layerFromEnv reads RELAY_DNS_SERVERS, comma or space separated", async () => {
    const server = await startFakeServer(({ query, reply }) =>
      reply(
        responseFor(
          query,
          [{ type: "TXT", name: query.questions![0]!.name, ttl: 30, data: ["from ", "env"] }],
          { flags: dnsPacket.AUTHENTIC_DATA },
        ),
      ),
    )
    const saved = process.env.RELAY_DNS_SERVERS
    process.env.RELAY_DNS_SERVERS = ` ${server.server}, 127.0.0.1:9 `
    try {
      const result = await Effect.runPromise(
        SecureDns.pipe(
          Effect.flatMap((dns) => dns.txt("env.example")),
          Effect.either,
          Effect.provide(SecureDns.layerFromEnv),
        ),
      )
      expect(Either.getOrThrow(result)).toMatchObject({ records: ["from env"], secure: true, ttl: 30 })
    } finally {
      if (saved === undefined) delete process.env.RELAY_DNS_SERVERS
      else process.env.RELAY_DNS_SERVERS = saved
      await server.stop()
    }
  })
})

describe("names refused before any query", () => {
  it.each([
    ["", "empty"],
    ["a..example", "empty-label"],
    [`${"a".repeat(64)}.example`, "label-too-long"],
    [`${"abcdefghi.".repeat(26)}example`, "too-long"],
    ["bücher.example", "invalid-character"],
    ["a b.example", "invalid-character"],
  ])("%j: %s", async (name, problem) => {
    expect(errorOf(await ask(["127.0.0.1:9"], (dns) => dns.mx(name)))).toMatchObject({
      _tag: "DnsInvalidName",
      problem,
    })
  })
})

describe("CNAME chains", () => {
  let server: FakeServer | undefined
  afterEach(async () => {
    await server?.stop()
    server = undefined
  })

  const cname = (name: string, target: string): dnsPacket.Answer => ({
    type: "CNAME",
    name,
    ttl: 40,
    data: target,
  })
  const tlsa = (name: string): dnsPacket.Answer => ({
    type: "TLSA",
    name,
    ttl: 20,
    data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.from("abcd", "hex") },
  })

  it("a chain cut short is asked on from where it ended; secure only if every part was", async () => {
    server = await startFakeServer(({ query, reply }) => {
      const name = query.questions![0]!.name
      if (name === "_25._tcp.mx.a.example")
        reply(responseFor(query, [cname(name, "_25._tcp.mx.b.example")], { flags: dnsPacket.AUTHENTIC_DATA }))
      else reply(responseFor(query, [tlsa(name)]))
    })
    const answer = answerOf(await ask([server.server], (dns) => dns.tlsa("_25._tcp.mx.a.example")))
    expect(server.exchanges.map((e) => e.query.questions![0]!.name)).toEqual([
      "_25._tcp.mx.a.example",
      "_25._tcp.mx.b.example",
    ])
    expect(answer).toMatchObject({
      canonicalName: "_25._tcp.mx.b.example",
      status: "records",
      secure: false,
      ttl: 20,
      records: [{ hex: "abcd" }],
    })
  })

  it("a loop fails with DnsCnameChainTooLong, naming the chain", async () => {
    server = await startFakeServer(({ query, reply }) => {
      const name = query.questions![0]!.name
      reply(
        responseFor(
          query,
          [cname(name, "b.example"), cname("b.example", "c.example"), cname("c.example", name)],
          {
            flags: dnsPacket.AUTHENTIC_DATA,
          },
        ),
      )
    })
    expect(errorOf(await ask([server.server], (dns) => dns.tlsa("a.example")))).toMatchObject({
      _tag: "DnsCnameChainTooLong",
      chain: ["a.example", "b.example", "c.example", "a.example"],
    })
  })

  it("so does a loop across responses", async () => {
    server = await startFakeServer(({ query, reply }) => {
      const name = query.questions![0]!.name
      reply(responseFor(query, [cname(name, name === "a.example" ? "b.example" : "a.example")]))
    })
    expect(errorOf(await ask([server.server], (dns) => dns.mx("a.example")))).toMatchObject({
      _tag: "DnsCnameChainTooLong",
      chain: ["a.example", "b.example", "a.example"],
    })
    expect(server.exchanges).toHaveLength(2)
  })

  it("an endless chain across responses stops too", async () => {
    server = await startFakeServer(({ query, reply }) => {
      const name = query.questions![0]!.name
      reply(responseFor(query, [cname(name, `x${name}`)]))
    })
    const error = errorOf(await ask([server.server], (dns) => dns.addresses("a.example")))
    expect(error).toMatchObject({ _tag: "DnsCnameChainTooLong" })
    expect((error as { chain: ReadonlyArray<string> }).chain).toHaveLength(14)
  })
})
