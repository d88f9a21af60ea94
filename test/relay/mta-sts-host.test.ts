/**
 * A relay process publishes our local domains' MTA-STS policies from the active bundle: a real
 * HTTPS client that verifies the certificate (test-pki root, SNI `mta-sts.<domain>`) fetches
 * the policy from the relay's RELAY_MTA_STS_PORT_HTTPS listener; a new bundle with a changed
 * policy is served with a new id; foreign hosts and domains without mtaSts get 404.
 */
import { request as httpRequest } from "node:http"
import { request } from "node:https"
import { mtaStsPolicyId, type PolicySet, type PublishedMtaSts } from "@mailconnect/policy"
import { createRootCa } from "@mailconnect/test-pki"
import { freePort } from "@mailconnect/test-redis"
import type { Lab, RelayProcess } from "@mailconnect/test-support"
import { cli, eventually, samplePayload, signedPolicy, startLab, startRelay } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let lab: Lab
let relay: RelayProcess
let httpsPort: number
let rootPem: string

const ENFORCE: PublishedMtaSts = {
  mode: "enforce",
  maxAge: 604_800,
  mx: ["mx1.relay.example", "*.relay.example"],
}

const policyWith = (acme: PublishedMtaSts): PolicySet => {
  const base = samplePayload(1).policy
  return {
    ...base,
    localDomains: {
      "acme.example": {
        domain: "acme.example",
        deliverTo: { host: "mailbox.acme.example", port: 25 },
        groups: [],
        mtaSts: acme,
      },
      "lawfirm.example": {
        domain: "lawfirm.example",
        deliverTo: { host: "mailbox.lawfirm.example", port: 25 },
        groups: [],
      },
    },
  }
}

const publish = async (policy: PolicySet, serial: number) => {
  const run = await cli(lab, [
    "policy",
    "publish",
    "--bundle",
    lab.file(`s${serial}.bundle`, signedPolicy(lab.signer, policy, serial)),
  ])
  expect(run.code, run.stderr).toBe(0)
  await eventually(async () => (await relay.activeSerial()) === serial, `serial ${serial} active`)
}

interface Fetched {
  readonly status: number
  readonly contentType: string | undefined
  readonly body: string
}

/** GET over HTTPS with certificate checks on: the name checked is `servername`, the Host header `host`. */
const fetchPolicy = (servername: string, host = servername): Promise<Fetched> =>
  new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: httpsPort,
        path: "/.well-known/mta-sts.txt",
        servername,
        ca: rootPem,
        headers: { host },
        rejectUnauthorized: true,
      },
      (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (chunk) => {
          body += chunk
        })
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"], body }),
        )
      },
    )
    req.on("error", reject)
    req.end()
  })

const idOf = (text: string) => {
  const mx = [...text.matchAll(/^mx: (.*)\r$/gm)].map((m) => m[1]!)
  const mode = /^mode: (.*)\r$/m.exec(text)![1] as PublishedMtaSts["mode"]
  const maxAge = Number(/^max_age: (\d+)\r$/m.exec(text)![1])
  return mtaStsPolicyId({ mode, maxAge, mx })
}

beforeAll(async () => {
  lab = await startLab()
  const root = await createRootCa()
  rootPem = root.certPem
  const leaf = await root.issueServer({ names: ["mta-sts.acme.example", "mta-sts.lawfirm.example"] })
  httpsPort = await freePort()
  relay = await startRelay(lab, "relay-mta-sts", {
    env: {
      RELAY_ROLES: "delivery",
      RELAY_MTA_STS_PORT_HTTPS: String(httpsPort),
      RELAY_MTA_STS_HOST: "127.0.0.1",
      RELAY_MTA_STS_CERT: lab.file("mta-sts.crt", leaf.chainPem),
      RELAY_MTA_STS_KEY: lab.file("mta-sts.key", leaf.keyPem),
    },
  })
})
afterAll(async () => {
  await relay?.stop("SIGTERM")
  await lab?.stop()
})

describe("MTA-STS policy host", { timeout: 120_000 }, () => {
  it("serves each local domain's policy from the active bundle, with a new id only when it changes", async () => {
    await publish(policyWith(ENFORCE), 1)
    const first = await fetchPolicy("mta-sts.acme.example", "MTA-STS.Acme.Example.:443")
    expect(first).toEqual({
      status: 200,
      contentType: "text/plain",
      body: "version: STSv1\r\nmode: enforce\r\nmx: mx1.relay.example\r\nmx: *.relay.example\r\nmax_age: 604800\r\n",
    })
    expect(idOf(first.body)).toBe(mtaStsPolicyId(ENFORCE))

    // An unchanged policy in a new bundle: same text, same id.
    await publish(policyWith({ ...ENFORCE, mx: [...ENFORCE.mx] }), 2)
    expect((await fetchPolicy("mta-sts.acme.example")).body).toBe(first.body)

    await publish(policyWith({ ...ENFORCE, mode: "testing" }), 3)
    const changed = await fetchPolicy("mta-sts.acme.example")
    expect(changed.body).toContain("mode: testing\r\n")
    expect(idOf(changed.body)).not.toBe(mtaStsPolicyId(ENFORCE))
  })

  it("answers 404 for a foreign host and for a local domain without mtaSts", async () => {
    expect((await fetchPolicy("mta-sts.lawfirm.example")).status).toBe(404)
    // A certificate-valid connection cannot be used to ask for another domain's policy.
    expect((await fetchPolicy("mta-sts.acme.example", "mta-sts.other.example")).status).toBe(404)
    expect((await fetchPolicy("mta-sts.acme.example", "acme.example")).status).toBe(404)
  })

  it("also answers on the ops HTTP port for a TLS terminator in front", async () => {
    // fetch() drops a Host header; node:http sends it as given.
    const plain = await new Promise<Fetched>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port: relay.port,
          path: "/.well-known/mta-sts.txt",
          headers: { host: "mta-sts.acme.example" },
        },
        (res) => {
          let body = ""
          res.on("data", (chunk) => {
            body += chunk
          })
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"], body }),
          )
        },
      )
      req.on("error", reject)
      req.end()
    })
    expect(plain.status).toBe(200)
    expect(plain.contentType).toBe("text/plain")
    expect(plain.body).toContain("version: STSv1\r\n")
  })
})
