/**
 * The partner lab: one real SMTP server per scenario on loopback, certificates from a test PKI
 * minted at start, and a DNS server for MX/A/AAAA. Reused by delivery tests, the local stack and
 * benchmarks. Nothing here listens beyond 127.0.0.0/8.
 */
import { once } from "node:events"
import { type AddressInfo, createServer } from "node:net"
import {
  type CertificateAuthority,
  createRootCa,
  createSelfSigned,
  type IssuedCertificate,
} from "@mailconnect/test-pki"
import { type LabDns, startLabDns } from "./dns-server"
import { type RunningProxy, startMitmProxy } from "./mitm-proxy"
import { type ReceivedConnection, Recorder } from "./recording"
import { planScenario, SCENARIOS, type ScenarioName } from "./scenarios"
import { type RunningSmtpServer, startSmtpLabServer } from "./smtp-lab-server"

export interface LabScenario {
  readonly scenario: ScenarioName
  readonly host: string
  readonly port: number
  /** The DNS name the scenario's certificate is issued for (`<scenario>.<domain>`), A → host. */
  readonly name: string
  readonly certificate: IssuedCertificate
  readonly previousCertificate: IssuedCertificate | undefined
  readonly recorder: Recorder
  /** Connections the SMTP server behind this scenario received (behind the proxy, if any). */
  readonly received: ReadonlyArray<ReceivedConnection>
}

export interface LabPki {
  /** Trust anchor of every lab server certificate (a partner's private CA). */
  readonly root: CertificateAuthority
  readonly issuer: CertificateAuthority
  /** Our relay's client certificate: the mTLS scenarios trust it. */
  readonly relayClient: IssuedCertificate
  /** A client certificate from a CA the mTLS scenarios do not trust. */
  readonly strangerClient: IssuedCertificate
}

export interface Lab {
  readonly scenario: (name: ScenarioName) => LabScenario
  readonly scenarios: ReadonlyArray<LabScenario>
  readonly dns: LabDns
  readonly pki: LabPki
  readonly domain: string
  readonly stop: () => Promise<void>
}

export interface LabOptions {
  /** Default: every scenario. */
  readonly scenarios?: ReadonlyArray<ScenarioName>
  /** How long the `slow` server waits before its greeting. Default 5 s. */
  readonly slowGreetingMs?: number
  /** Parent domain of the scenario names. Default `lab.test`. */
  readonly domain?: string
}

const CLOSED_HOST = "127.0.0.254"

/** A port on loopback that nothing listens on (bound, then released). */
const closedPort = async (host: string): Promise<number> => {
  const probe = createServer()
  probe.listen(0, host)
  await once(probe, "listening")
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

export const startLab = async (options: LabOptions = {}): Promise<Lab> => {
  const domain = options.domain ?? "lab.test"
  const host = "127.0.0.1"
  const root = await createRootCa({ commonName: "partner lab root", organization: "mailconnect lab" })
  const issuer = await root.issueIntermediate("partner lab issuing CA")
  const relayCa = await createRootCa({ commonName: "relay client CA" })
  const relayClient = await relayCa.issueClient({ names: ["relay.mailconnect.test"], commonName: "relay" })
  const strangerCa = await createRootCa({ commonName: "stranger CA" })
  const strangerClient = await strangerCa.issueClient({ names: ["stranger.test"], commonName: "stranger" })
  const dns = await startLabDns(host)

  const servers: Array<RunningSmtpServer> = []
  const proxies: Array<RunningProxy> = []
  const byName = new Map<ScenarioName, LabScenario>()
  const stop = async () => {
    await Promise.all([...proxies.map((p) => p.stop()), ...servers.map((s) => s.stop()), dns.stop()])
  }

  try {
    for (const scenario of options.scenarios ?? SCENARIOS) {
      const name = `${scenario}.${domain}`
      const plan = await planScenario(scenario, {
        root,
        issuer,
        relayClientCa: relayCa.certPem,
        hostname: name,
        slowGreetingMs: options.slowGreetingMs ?? 5_000,
        selfSigned: createSelfSigned,
      })
      // Nothing listens there: an address of its own, so that no other test's server (they bind
      // 127.0.0.1) can take the released port in the meantime.
      let endpoint = { host: CLOSED_HOST, port: await closedPort(CLOSED_HOST) }
      let recorder: Recorder | undefined
      if (plan.server) {
        const server = await startSmtpLabServer({
          ...plan.server,
          name,
          host,
          cert: plan.certificate.chainPem,
          key: plan.certificate.keyPem,
        })
        servers.push(server)
        recorder = server.recorder
        endpoint = { host, port: server.port }
        if (plan.proxy) {
          const proxy = await startMitmProxy(endpoint, plan.proxy, host)
          proxies.push(proxy)
          endpoint = { host, port: proxy.port }
        }
      }
      const finalRecorder = recorder ?? new Recorder()
      dns.set(name, [{ type: "A", address: endpoint.host }])
      byName.set(scenario, {
        scenario,
        host: endpoint.host,
        port: endpoint.port,
        name,
        certificate: plan.certificate,
        previousCertificate: plan.previousCertificate,
        recorder: finalRecorder,
        received: finalRecorder.connections,
      })
    }
  } catch (error) {
    await stop()
    throw error
  }

  return {
    scenario: (name) => {
      const found = byName.get(name)
      if (!found) throw new Error(`lab scenario ${name} was not started`)
      return found
    },
    scenarios: [...byName.values()],
    dns,
    pki: { root, issuer, relayClient, strangerClient },
    domain,
    stop,
  }
}
