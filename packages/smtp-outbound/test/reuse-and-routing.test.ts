/**
 * Connection reuse, TLS resumption, MX resolution against the lab's DNS server, expiry and the
 * attempt's deadline on the Effect clock.
 */
import { once } from "node:events"
import { type AddressInfo, createServer, type Socket } from "node:net"
import { type Lab, startLab } from "@mailconnect/partner-lab"
import { Duration, Effect, Fiber, TestClock, TestContext } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { attemptDeadlineMs, OutboundDelivery } from "../src/index"
import { deliver, failureOf, message, policyFor, reportOf, withRuntime } from "./lab-harness"

let lab: Lab
beforeAll(async () => {
  lab = await startLab({ scenarios: ["good", "rcpt-5xx", "closed-port"] })
})
afterAll(async () => {
  await lab.stop()
})

describe("connection reuse", () => {
  it("carries several messages over one verified connection, RSET between", async () => {
    const good = lab.scenario("good")
    good.recorder.clear()
    await withRuntime(lab, { maxMessagesPerConnection: 10, idleTimeoutMs: 5_000 }, async (runtime) => {
      const reports = []
      for (let i = 0; i < 3; i++) reports.push(reportOf(await deliver(runtime, lab, good)))
      expect(reports.map((r) => r.reusedConnection)).toEqual([false, true, true])
      expect(good.received).toHaveLength(1)
      expect(good.received[0]?.transactions).toHaveLength(3)
      expect(reports[1]?.attempts[0]?.transcript.map((l) => l.line)).toContain("RSET")
      expect(reports[2]?.attempts[0]?.tls?.verification?.ok).toBe(true)
    })
  })

  it("stops at the message bound and resumes the TLS session on the next connection", async () => {
    const good = lab.scenario("good")
    good.recorder.clear()
    await withRuntime(lab, { maxMessagesPerConnection: 2 }, async (runtime) => {
      const reports = []
      for (let i = 0; i < 3; i++) reports.push(reportOf(await deliver(runtime, lab, good)))
      expect(reports.map((r) => r.reusedConnection)).toEqual([false, true, false])
      expect(good.received).toHaveLength(2)
      expect(reports[2]?.attempts[0]?.tls?.resumed).toBe(true)
      expect(reports[2]?.attempts[0]?.tls?.peer?.spkiPin).toBe(good.certificate.pin)
    })
  })

  it("closes a connection left idle for idleTimeoutMs (QUIT), keeps one in use within it", async () => {
    const good = lab.scenario("good")
    good.recorder.clear()
    await withRuntime(lab, { maxMessagesPerConnection: 10, idleTimeoutMs: 1_000 }, async (runtime) => {
      const first = reportOf(await deliver(runtime, lab, good))
      // Used again within the idle time: the same connection.
      await new Promise((resolve) => setTimeout(resolve, 300))
      const second = reportOf(await deliver(runtime, lab, good))
      expect([first.reusedConnection, second.reusedConnection]).toEqual([false, true])
      expect(good.received[0]?.closed).toBe(false)
      // Then idle: closed by us within the idle time and a sweep (a fifth of it) or so.
      const idleFrom = Date.now()
      while (!good.received[0]?.closed && Date.now() - idleFrom < 10_000)
        await new Promise((resolve) => setTimeout(resolve, 50))
      expect(good.received[0]?.closed).toBe(true)
      expect(good.received[0]?.transactions).toHaveLength(2)
      const third = reportOf(await deliver(runtime, lab, good))
      expect(third.reusedConnection).toBe(false)
      expect(good.received).toHaveLength(2)
    })
  })

  it("closing the delivery (a relay shutting down) QUITs an idle connection at once, not after its idle time", async () => {
    const good = lab.scenario("good")
    good.recorder.clear()
    // An idle time far beyond the test's timeout: waiting it out would fail the test.
    await withRuntime(lab, { maxMessagesPerConnection: 10, idleTimeoutMs: 600_000 }, async (runtime) => {
      expect(reportOf(await deliver(runtime, lab, good)).reusedConnection).toBe(false)
      expect(good.received[0]?.closed).toBe(false)
    })
    const closedFrom = Date.now()
    while (!good.received[0]?.closed && Date.now() - closedFrom < 10_000)
      await new Promise((resolve) => setTimeout(resolve, 50))
    expect(good.received[0]?.closed).toBe(true)
  })

  it("resets after every recipient was refused and reuses the connection", async () => {
    const scenario = lab.scenario("rcpt-5xx")
    scenario.recorder.clear()
    await withRuntime(lab, { maxMessagesPerConnection: 10 }, async (runtime) => {
      const first = reportOf(await deliver(runtime, lab, scenario))
      const second = reportOf(await deliver(runtime, lab, scenario))
      expect([first.recipients[0]?.status, second.recipients[0]?.status]).toEqual(["bounced", "bounced"])
      expect(second.reusedConnection).toBe(true)
      expect(scenario.received).toHaveLength(1)
    })
  })
})

describe("next hops from DNS", () => {
  it("tries MX hosts by preference and falls over to the next", async () => {
    const good = lab.scenario("good")
    lab.dns.set("mx-routed.test", [
      { type: "MX", preference: 20, exchange: good.name },
      { type: "MX", preference: 10, exchange: "down.lab.test" },
    ])
    lab.dns.set("down.lab.test", [{ type: "A", address: "127.0.0.2" }])
    await withRuntime(lab, { mxPort: good.port }, async (runtime) => {
      const result = await runtime.runPromise(
        Effect.either(
          Effect.flatMap(OutboundDelivery, (d) =>
            d.deliver({
              domain: "mx-routed.test",
              recipients: ["someone@mx-routed.test"],
              sender: "sender@customer.test",
              body: message(),
              // Names from the policy: the MX host is outside the recipient domain.
              policy: {
                ...policyFor(lab, good, { verify: { names: [good.name] } }),
                servers: undefined,
                domain: "mx-routed.test",
              },
              bundleSerial: 7,
            }),
          ),
        ),
      )
      const report = reportOf(result)
      expect(report.attempts.map((a) => [a.server, a.address, a.outcome])).toEqual([
        [`down.lab.test:${good.port}`, "127.0.0.2", "CONNECT_REFUSED"],
        [`${good.name}:${good.port}`, "127.0.0.1", "ok"],
      ])
      expect(lab.dns.queries).toContain("mx-routed.test MX")
    })
  })

  it("a domain without MX or address: DNS_NO_ROUTE", async () => {
    await withRuntime(lab, {}, async (runtime) => {
      const error = failureOf(
        await runtime.runPromise(
          Effect.either(
            Effect.flatMap(OutboundDelivery, (d) =>
              d.deliver({
                domain: "nowhere.test",
                recipients: ["x@nowhere.test"],
                sender: "s@customer.test",
                body: message(),
                policy: {
                  ...policyFor(lab, lab.scenario("good")),
                  servers: undefined,
                  domain: "nowhere.test",
                },
                bundleSerial: 7,
              }),
            ),
          ),
        ),
      )
      expect(error).toMatchObject({
        code: "DNS_NO_ROUTE",
        status: "4.4.1",
        retry: "defer",
        reason: "no-mx-or-address",
      })
    })
  })
})

describe("expiry on the Effect clock", () => {
  it("a certificate valid today is CERT_EXPIRED when the clock says 100 days later", async () => {
    const good = lab.scenario("good")
    await withRuntime(lab, {}, async (runtime) => {
      const result = await runtime.runPromise(
        Effect.gen(function* () {
          yield* TestClock.setTime(Date.now() + 100 * 86_400_000)
          const delivery = yield* OutboundDelivery
          return yield* Effect.either(
            delivery.deliver({
              domain: "partner.test",
              recipients: ["someone@partner.test"],
              sender: "s@customer.test",
              body: message(),
              policy: policyFor(lab, good),
              bundleSerial: 1,
            }),
          )
        }).pipe(Effect.provide(TestContext.TestContext)),
      )
      expect(failureOf(result)).toMatchObject({ code: "CERT_EXPIRED", form: "expired" })
    })
  })
})

/**
 * A plaintext SMTP server that takes messages and refuses the first RSET with a 5xx, keeping the
 * connection open (a 421 would close it); what each connection said.
 */
const rsetRefuser = async () => {
  const sessions: Array<Array<string>> = []
  let refused = false
  const server = createServer((socket) => {
    const said: Array<string> = []
    sessions.push(said)
    socket.on("error", () => {})
    socket.write("220 mx.partner.test ESMTP\r\n")
    let pending = ""
    let inData = false
    socket.on("data", (data) => {
      pending += data.toString("latin1")
      for (;;) {
        if (inData) {
          const end = pending.indexOf("\r\n.\r\n")
          if (end < 0) return
          pending = pending.slice(end + 5)
          inData = false
          socket.write("250 2.0.0 Ok: queued\r\n")
          continue
        }
        const end = pending.indexOf("\r\n")
        if (end < 0) return
        const line = pending.slice(0, end)
        pending = pending.slice(end + 2)
        const verb = line.split(/[ :]/)[0]!.toUpperCase()
        said.push(verb)
        if (verb === "EHLO") socket.write("250 mx.partner.test\r\n")
        else if (verb === "MAIL" || verb === "RCPT") socket.write("250 2.1.0 Ok\r\n")
        else if (verb === "DATA") {
          inData = true
          socket.write("354 End data with <CR><LF>.<CR><LF>\r\n")
        } else if (verb === "RSET" && !refused) {
          refused = true
          socket.write("502 5.5.1 mx.partner.test: RSET not now\r\n")
        } else if (verb === "RSET") socket.write("250 2.0.0 Ok\r\n")
        else if (verb === "QUIT") socket.end("221 2.0.0 Bye\r\n")
      }
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return { port: (server.address() as AddressInfo).port, sessions, close: () => server.close() }
}

describe("a refused RSET on a cached session", () => {
  it("the session is QUIT, not left open, and the message goes over a fresh one", async () => {
    const peer = await rsetRefuser()
    try {
      await withRuntime(lab, { maxMessagesPerConnection: 10 }, async (runtime) => {
        const send = () =>
          runtime.runPromise(
            Effect.either(
              Effect.flatMap(OutboundDelivery, (d) =>
                d.deliver({
                  domain: "partner.test",
                  recipients: ["someone@partner.test"],
                  sender: "s@customer.test",
                  body: message(),
                  policy: {
                    ...policyFor(lab, lab.scenario("good"), { mode: "opportunistic" }),
                    servers: [{ host: "127.0.0.1", port: peer.port }],
                  },
                  bundleSerial: 1,
                }),
              ),
            ),
          )
        const first = reportOf(await send())
        const second = reportOf(await send())
        expect([first.reusedConnection, second.reusedConnection]).toEqual([false, false])
        expect(peer.sessions).toHaveLength(2)
        // The first connection (EHLO twice: ours, then nodemailer's in plaintext): a message, the
        // refused RSET, then our QUIT — not left open until the server gives up on it.
        const from = Date.now()
        while (!peer.sessions[0]!.includes("QUIT") && Date.now() - from < 10_000)
          await new Promise((r) => setTimeout(r, 20))
        expect(peer.sessions[0]).toEqual(["EHLO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "QUIT"])
      })
    } finally {
      peer.close()
    }
  })
})

describe("the attempt's deadline", () => {
  it("a server that never greets, under stage timeouts far away: the attempt ends at its deadline, its connection dropped", async () => {
    // Accepts and holds every connection, saying nothing: each stage's own timer is 10 minutes.
    const held: Array<Socket> = []
    const silent = createServer((socket) => {
      held.push(socket)
      socket.on("error", () => {})
    })
    silent.listen(0, "127.0.0.1")
    await once(silent, "listening")
    const timeouts = {
      connectMs: 2_000,
      greetingMs: 600_000,
      commandMs: 600_000,
      tlsMs: 600_000,
      dataMs: 600_000,
    }
    try {
      await withRuntime(lab, { timeouts }, async (runtime) => {
        const result = await runtime.runPromise(
          Effect.gen(function* () {
            const delivery = yield* OutboundDelivery
            const attempt = yield* Effect.fork(
              Effect.either(
                delivery.deliver({
                  domain: "partner.test",
                  recipients: ["someone@partner.test"],
                  sender: "s@customer.test",
                  body: message(),
                  policy: {
                    ...policyFor(lab, lab.scenario("good")),
                    servers: [{ host: "127.0.0.1", port: (silent.address() as AddressInfo).port }],
                  },
                  bundleSerial: 1,
                }),
              ),
            )
            // Real time: until the silent server holds our connection, waiting for the greeting.
            while (held.length === 0) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
            yield* TestClock.adjust(Duration.millis(attemptDeadlineMs(timeouts)))
            return yield* Fiber.join(attempt)
          }).pipe(Effect.provide(TestContext.TestContext)),
        )
        expect(failureOf(result)).toMatchObject({ code: "SMTP_TRANSIENT", status: "4.4.2", retry: "defer" })
        expect(failureOf(result).detail).toContain("deadline")
      })
      // Dropped, not left waiting on the server.
      const from = Date.now()
      while (!held[0]?.closed && Date.now() - from < 10_000) await new Promise((r) => setTimeout(r, 20))
      expect(held[0]?.closed).toBe(true)
    } finally {
      for (const socket of held) socket.destroy()
      silent.close()
    }
  })
})
