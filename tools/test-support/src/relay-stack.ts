/**
 * A relay under test with everything real: Redis (distribution lab), partner servers (partner
 * lab), a signed policy bundle naming them, relay processes with SMTP listeners and delivery
 * workers, and an SMTP client. Used by the pipeline, fault and rolling-deploy tests.
 */
import { createHash } from "node:crypto"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import {
  type Lab as PartnerLab,
  type ScenarioName,
  startLab as startPartnerLab,
} from "@mailconnect/partner-lab"
import type { Partner, PolicySet } from "@mailconnect/policy"
import { formatUsersFile, hashPassword } from "@mailconnect/smtp-inbound"
import { createRootCa } from "@mailconnect/test-pki"
import { freePort } from "@mailconnect/test-redis"
import nodemailer from "nodemailer"
import { publishSigned, signedPolicy } from "./bundles"
import { type Lab, type RelayProcess, startLab, startRelay } from "./distribution-lab"
import { localDomain, partner, policyWith } from "./partners"

export const PASSWORD = "a long test password"

export interface Stack {
  readonly lab: Lab
  readonly partners: PartnerLab
  readonly relayCa: string
  /** Files and env every relay of this stack gets. */
  readonly relayEnv: Readonly<Record<string, string>>
  readonly publish: (policy: PolicySet, serial: number) => Promise<void>
  readonly startRelay: (id: string, env?: Record<string, string>) => Promise<SmtpRelay>
  readonly stop: () => Promise<void>
}

export interface SmtpRelay extends RelayProcess {
  readonly submissionPort: number
  readonly mxPort: number
}

const ca = (pem: string) => ({
  file: "certs/lab.pem",
  pem,
  sha256: createHash("sha256").update(pem).digest("hex"),
  notAfter: "2036-01-01T00:00:00.000Z",
})

/** An enforce partner whose only server is a partner-lab scenario. */
export const labPartner = (
  partners: PartnerLab,
  name: string,
  scenario: ScenarioName,
  overrides: Partial<Partner["tls"]["verify"]> = {},
): Partner => {
  const s = partners.scenario(scenario)
  return partner(name, {
    servers: [{ host: s.host, port: s.port }],
    tls: {
      mode: "enforce",
      minVersion: "TLSv1.2",
      verify: { trust: "pkix", names: [s.name], pins: [], ca: ca(partners.pki.root.certPem), ...overrides },
    },
    inbound: { requireTls: true, requireClientCertificate: false },
  })
}

/** The partners, and `customer.example` delivered to `mailboxes`. */
export const policyOf = (
  partners: ReadonlyArray<Partner>,
  mailboxes: { host: string; port: number },
): PolicySet => policyWith(partners, { localDomains: [localDomain("customer.example", mailboxes)] })

export const startStack = async (scenarios: ReadonlyArray<ScenarioName>): Promise<Stack> => {
  const lab = await startLab()
  const partners = await startPartnerLab({
    scenarios: ["good", ...scenarios.filter((s) => s !== "good")],
    slowGreetingMs: 3_000,
  })
  const root = await createRootCa({ commonName: "relay test root" })
  const relayCert = await root.issueServer({ names: ["relay.test", "127.0.0.1"] })
  const clientDir = join(lab.dir, "client-certs")
  mkdirSync(clientDir, { recursive: true })
  lab.file("client-certs/relay.crt", partners.pki.relayClient.chainPem)
  lab.file("client-certs/relay.key", partners.pki.relayClient.keyPem)
  const relayEnv = {
    RELAY_HOSTNAME: "relay.test",
    RELAY_TLS_CERT: lab.file("relay.crt", relayCert.chainPem),
    RELAY_TLS_KEY: lab.file("relay.key", relayCert.keyPem),
    RELAY_USERS_FILE: lab.file(
      "users",
      formatUsersFile([{ name: "alice", hash: await hashPassword(PASSWORD), domains: ["customer.example"] }]),
    ),
    RELAY_CLIENT_CERTS: clientDir,
    RELAY_DNS_SERVERS: `${partners.dns.host}:${partners.dns.port}`,
  }
  return {
    lab,
    partners,
    relayCa: root.certPem,
    relayEnv,
    publish: async (policy, serial) => {
      await lab.withRedis(publishSigned(lab.signer, signedPolicy(lab.signer, policy, serial)))
    },
    startRelay: async (id, env = {}) => {
      const submissionPort = await freePort()
      const mxPort = await freePort()
      const relay = await startRelay(lab, id, {
        env: {
          ...relayEnv,
          RELAY_SMTP_SUBMISSION_PORT: String(submissionPort),
          RELAY_SMTP_MX_PORT: String(mxPort),
          ...env,
        },
      })
      return Object.assign(relay, { submissionPort, mxPort })
    },
    stop: async () => {
      await partners.stop()
      await lab.stop()
    },
  }
}

export interface Submitted {
  readonly ok: boolean
  readonly response: string
  readonly code: number | undefined
  readonly queueId: string | undefined
}

/** Submits one message over STARTTLS with AUTH, as a mail program would. */
export const submit = async (
  relay: SmtpRelay,
  relayCa: string,
  to: ReadonlyArray<string>,
  subject = "test",
  /** A Message-ID header for the message (without angle brackets); none by default. */
  messageId?: string,
): Promise<Submitted> => {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: relay.submissionPort,
    requireTLS: true,
    tls: { ca: relayCa, servername: "relay.test" },
    auth: { user: "alice", pass: PASSWORD },
    connectionTimeout: 15_000,
  })
  try {
    const info = await transport.sendMail({
      envelope: { from: "alice@customer.example", to: [...to] },
      raw: `From: alice@customer.example\r\nTo: ${to.join(", ")}\r\nSubject: ${subject}\r\n${messageId ? `Message-ID: <${messageId}>\r\n` : ""}\r\n${"x".repeat(2000)}\r\n`,
    })
    return {
      ok: true,
      response: info.response,
      code: 250,
      queueId: /queued as (\S+)/.exec(info.response)?.[1],
    }
  } catch (e) {
    const error = e as { response?: string; responseCode?: number; message: string }
    return {
      ok: false,
      response: error.response ?? error.message,
      code: error.responseCode,
      queueId: undefined,
    }
  } finally {
    transport.close()
  }
}
