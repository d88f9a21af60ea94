/**
 * `decideConnector` on addresses a loopback test cannot produce: IPv6 clients and IPv4 clients as
 * a dual-stack listener reports them (`::ffff:a.b.c.d`). The SMTP behaviour is in connectors.test.ts.
 */
import { type Connector, networkMatcher } from "@mailconnect/policy"
import { describe, expect, it } from "vitest"
import { decideConnector } from "../src"

const connector = (overrides: Partial<Connector>): Connector => ({
  name: "office",
  networks: ["192.0.2.0/24", "2001:db8:25::/48"],
  senderDomains: ["customer.example"],
  requireTls: false,
  ...overrides,
})

const decide = (remoteAddress: string, c: Connector = connector({}), sender = "a@customer.example") =>
  decideConnector({
    connectors: [{ connector: c, fromNetwork: networkMatcher(c.networks) }],
    session: { remoteAddress, secure: false, clientChain: [] },
    sender,
    now: 0,
  })._tag

describe("decideConnector", () => {
  it("matches IPv6 clients and IPv4-mapped IPv4 clients by their networks", () => {
    expect(decide("2001:db8:25:1::7")).toBe("Relay")
    expect(decide("::ffff:192.0.2.9")).toBe("Relay")
    expect(decide("2001:db8:26::7")).toBe("InboundMx")
    expect(decide("::ffff:198.51.100.9")).toBe("InboundMx")
  })

  it("refuses plaintext only where every connector of the address requires TLS", () => {
    expect(decide("192.0.2.9", connector({ requireTls: true }))).toBe("Refuse")
    expect(decide("198.51.100.9", connector({ requireTls: true }))).toBe("InboundMx")
  })

  it("never relays with no connectors, or for a certificate-only connector over plaintext", () => {
    expect(
      decideConnector({
        connectors: [],
        session: { remoteAddress: "192.0.2.9", secure: true, clientChain: [] },
        sender: "a@customer.example",
        now: 0,
      }),
    ).toEqual({ _tag: "InboundMx", remote: undefined })
    const certificateOnly = connector({
      networks: [],
      clientCertificate: { trust: "pins", names: [], pins: ["sha256/x"] },
    })
    expect(decide("192.0.2.9", certificateOnly)).toBe("InboundMx")
  })
})
