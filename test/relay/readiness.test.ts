/**
 * /readyz says ready only once the relay serves: polled from the moment the process starts, its
 * first 200 is followed at once by a 220 on the SMTP port — a load balancer that adds the relay
 * on its first 200 sends no client to a port that is not listening yet. Before that /readyz
 * answers 503 with `running: false` although the bundle may already be active.
 */
import { connect } from "node:net"
import { freePort } from "@mailconnect/test-redis"
import type { Stack } from "@mailconnect/test-support"
import { labPartner, policyOf, startStack } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let stack: Stack

beforeAll(async () => {
  stack = await startStack(["good"])
  const good = stack.partners.scenario("good")
  await stack.publish(
    policyOf([labPartner(stack.partners, "bank", "good")], { host: good.host, port: good.port }),
    1,
  )
}, 120_000)

afterAll(async () => {
  await stack?.stop()
})

/** The first line the port says, or the connection error's code. */
const greeting = (port: number) =>
  new Promise<string>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port })
    socket.once("data", (chunk) => {
      resolve(chunk.toString("latin1").split("\r\n")[0]!)
      socket.destroy()
    })
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
  })

interface Seen {
  readonly status: number
  readonly body: { readonly ready: boolean; readonly running?: boolean }
}

describe("readiness", () => {
  it("the first 200 from /readyz comes after the SMTP listeners are bound", async () => {
    const httpPort = await freePort()
    const submissionPort = await freePort()
    const seen: Array<Seen> = []
    let stop = false
    const watcher = (async () => {
      while (!stop) {
        const answer = await fetch(`http://127.0.0.1:${httpPort}/readyz`, {
          signal: AbortSignal.timeout(1_000),
        })
          .then(async (r) => ({ status: r.status, body: (await r.json()) as Seen["body"] }))
          .catch(() => undefined)
        if (answer) seen.push(answer)
        // Connect the moment readiness is announced, as a load balancer would.
        if (answer?.status === 200) return greeting(submissionPort)
        await new Promise((r) => setTimeout(r, 2))
      }
      return "stopped"
    })()
    const relay = await stack.startRelay("relay-readiness", {
      RELAY_HTTP_PORT: String(httpPort),
      RELAY_SMTP_SUBMISSION_PORT: String(submissionPort),
    })
    try {
      const timer = setTimeout(() => {
        stop = true
      }, 30_000)
      const first = await watcher
      clearTimeout(timer)
      expect(first).toMatch(/^220 /)
      expect(seen.at(-1)?.body).toMatchObject({ ready: true, running: true })
      // Every earlier answer was a 503 saying why (not running yet).
      for (const answer of seen.slice(0, -1)) expect(answer.status).toBe(503)
    } finally {
      stop = true
      await relay.stop("SIGKILL")
    }
  })
})
