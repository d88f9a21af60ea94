/**
 * One question to the configured resolvers: tried in order, each with a fresh random id; the
 * ones that timed out or failed on the network are tried once more (resolv.conf's `attempts`).
 * A SERVFAIL or REFUSED is an answer and is not repeated to the same server.
 */
import { randomInt } from "node:crypto"
import { type Duration, Effect, Either } from "effect"
import { type DnsAttempt, DnsBogus, DnsLookupFailed, type ExtendedDnsError, type QueryType } from "./errors"
import { extendedError, makeQuery, type Response } from "./message"
import type { DnsServer } from "./servers"
import { exchange } from "./transport"

export interface LookupOptions {
  /** Per exchange (UDP, and TCP after truncation, each). */
  readonly timeout: Duration.DurationInput
  /** Rounds over the servers that gave no answer: 2 is one retry. */
  readonly attempts: number
  readonly udpPayloadSize: number
}

export interface Answered {
  readonly response: Response
  readonly server: string
}

export const lookup = (
  servers: ReadonlyArray<DnsServer>,
  options: LookupOptions,
  name: string,
  type: QueryType,
): Effect.Effect<Answered, DnsBogus | DnsLookupFailed> =>
  Effect.gen(function* () {
    const attempts: Array<DnsAttempt> = []
    const servfail: Array<string> = []
    let extended: ExtendedDnsError | undefined
    let pending = servers
    for (let round = 0; round < options.attempts && pending.length > 0; round++) {
      const again: Array<DnsServer> = []
      for (const server of pending) {
        const query = makeQuery(randomInt(0, 65_536), name, type, options.udpPayloadSize)
        const result = yield* Effect.either(exchange(server, query, options.timeout))
        if (Either.isLeft(result)) {
          const { server: label, transport, reason, detail } = result.left
          attempts.push({ server: label, transport, reason, detail })
          again.push(server)
          continue
        }
        const response = result.right
        const transport = response.transport
        switch (response.rcode) {
          case "NOERROR":
          case "NXDOMAIN":
            return { response, server: server.label }
          case "SERVFAIL":
            servfail.push(server.label)
            extended ??= extendedError(response.packet)
            break
          case "REFUSED":
            attempts.push({ server: server.label, transport, reason: "refused", detail: "REFUSED" })
            break
          default:
            attempts.push({
              server: server.label,
              transport,
              reason: "unexpected-rcode",
              detail: `rcode ${response.rawRcode}`,
            })
        }
      }
      pending = again
    }
    if (servfail.length > 0)
      return yield* new DnsBogus({
        name,
        type,
        servers: servfail,
        attempts,
        ...(extended ? { extendedError: extended } : {}),
      })
    const last = attempts.at(-1)
    return yield* new DnsLookupFailed({
      name,
      type,
      server: last?.server ?? "",
      reason: last?.reason ?? "network",
      detail: last?.detail ?? "no servers",
      attempts,
    })
  })
