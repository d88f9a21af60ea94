/**
 * A loopback port free for both UDP and TCP (a DNS server takes both): test-redis's `freePort`
 * (the kernel hands out a free TCP port), then the same number is tried on UDP.
 */
import { createSocket } from "node:dgram"
import { freePort } from "@mailconnect/test-redis"

const udpFree = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4")
    socket.unref()
    socket.once("error", () => {
      socket.close()
      resolve(false)
    })
    socket.bind(port, host, () => socket.close(() => resolve(true)))
  })

export const freeDnsPort = async (host = "127.0.0.1"): Promise<number> => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort(host)
    if (await udpFree(host, port)) return port
  }
  throw new Error(`no port free for both UDP and TCP on ${host}`)
}
