/**
 * Ports of the stack's listeners. The ports of the last run are reused when still free, so a
 * mail program configured once keeps working and queued mail still finds the demo partners;
 * any taken port is replaced by a free one on loopback. (The demo partners and their DNS server
 * take ephemeral ports: the policy the stack publishes names them afresh on every start.)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { freePort } from "@mailconnect/test-redis"
import type { StackPaths } from "./paths"

export const PORT_NAMES = ["redis", "submission", "submissions", "mx", "relayHttp", "dashboard"] as const
export type PortName = (typeof PORT_NAMES)[number]
export type StackPorts = Readonly<Record<PortName, number>>

const isFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

export const choosePorts = async (paths: StackPaths): Promise<StackPorts> => {
  const previous: Partial<Record<PortName, number>> = existsSync(paths.ports)
    ? JSON.parse(readFileSync(paths.ports, "utf8"))
    : {}
  const chosen: Partial<Record<PortName, number>> = {}
  const taken = new Set<number>()
  for (const name of PORT_NAMES) {
    const last = previous[name]
    let port = last !== undefined && !taken.has(last) && (await isFree(last)) ? last : await freePort()
    while (taken.has(port)) port = await freePort()
    taken.add(port)
    chosen[name] = port
  }
  writeFileSync(paths.ports, `${JSON.stringify(chosen, null, 2)}\n`)
  return chosen as StackPorts
}
