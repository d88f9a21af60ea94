/**
 * A small real world for the browser test: a policy directory compiled and signed into a bundle
 * published to Redis, two relays' heartbeats on its serial, and delivery jobs run by a real
 * worker through the outbound adapter against partner-lab servers — so the `delayed` job of the
 * enforce partner carries a real `CERT_EXPIRED` attempt in its data and log.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { signBundle } from "@mailconnect/bundle"
import {
  BullBoardQueue,
  type DeliveryJobData,
  DeliveryQueue,
  DeliveryWorker,
  Enqueue,
} from "@mailconnect/delivery-queue"
import { FleetRegistry } from "@mailconnect/fleet"
import type { Lab } from "@mailconnect/partner-lab"
import { PolicyView } from "@mailconnect/policy"
import { buildPayload, compileDirectory } from "@mailconnect/policy-compiler"
import { DelivererFromOutbound } from "@mailconnect/relay"
import { ClientCertificates, DnsResolver, OutboundConfig, OutboundDelivery } from "@mailconnect/smtp-outbound"
import { DEFAULTS_YAML, publishSigned, redisLayer, type TestSigner } from "@mailconnect/test-support"
import { Effect, Layer, ManagedRuntime } from "effect"

export const SERIAL = 42
export const COMMIT = "3f9c2e1d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"
export const PUBLISHER = "alice@ops (pipeline #118)"

const partnerFile = (options: {
  name: string
  domain: string
  server: string
  attestedOn: string
}) => `apiVersion: mailconnect/v1
kind: Partner
name: ${options.name}
agreement:
  reference: AGR-TEST-${options.name}
  signedOn: "2024-05-01"
  confirmedBy: Customer operations, ticket OPS-1
  confirmedOn: "2024-05-01"
  technicalContacts:
    - name: ${options.name} mail team
      email: postmaster@${options.domain}
domains:
  - ${options.domain}
route:
  servers:
    - ${options.server}
tls:
  mode: enforce
  minVersion: TLSv1.2
  verify:
    trust: pkix
    ca: certs/lab-root.pem
  review:
    attestedOn: "${options.attestedOn}"
    every: 1y
`

/** `contoso` (expired server certificate, review overdue) and `fabrikam` (good, reviewed). */
export const writePolicyDir = (lab: Lab): string => {
  const dir = mkdtempSync(join(tmpdir(), "mc-dash-policy-"))
  mkdirSync(join(dir, "partners"))
  mkdirSync(join(dir, "certs"))
  writeFileSync(join(dir, "defaults.yaml"), DEFAULTS_YAML)
  writeFileSync(
    join(dir, "local.yaml"),
    `apiVersion: mailconnect/v1
kind: LocalDomains
domains:
  - domain: customer.example
    deliverTo: 127.0.0.1:${lab.scenario("good").port}
`,
  )
  writeFileSync(join(dir, "certs", "lab-root.pem"), lab.pki.root.certPem)
  const expired = lab.scenario("expired")
  const good = lab.scenario("good")
  writeFileSync(
    join(dir, "partners", "contoso.yaml"),
    partnerFile({
      name: "contoso",
      domain: "contoso.example",
      server: `${expired.name}:${expired.port}`,
      attestedOn: "2024-06-01",
    }),
  )
  const recent = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10)
  writeFileSync(
    join(dir, "partners", "fabrikam.yaml"),
    partnerFile({
      name: "fabrikam",
      domain: "fabrikam.example",
      server: `${good.name}:${good.port}`,
      attestedOn: recent,
    }),
  )
  return dir
}

export interface World {
  readonly digest: string
  readonly deferredJobId: string
  readonly deliveredJobId: string
  readonly cleanup: () => void
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const buildWorld = async (options: {
  readonly lab: Lab
  readonly redisUrl: string
  readonly prefix: string
  readonly signer: TestSigner
}): Promise<World> => {
  const dir = writePolicyDir(options.lab)
  const redis = redisLayer(options.redisUrl, options.prefix)

  // Compile, sign and publish, exactly as `mailconnect policy compile` + `publish` do.
  const compiled = await Effect.runPromise(compileDirectory(dir).pipe(Effect.provide(NodeContext.layer)))
  const errors = compiled.diagnostics.filter((d) => d.severity === "error")
  if (errors.length > 0 || !compiled.policy || !compiled.index)
    throw new Error(`test policy does not compile: ${JSON.stringify(errors)}`)
  const policy = compiled.policy
  const index = compiled.index
  const bytes = signBundle(
    buildPayload({
      policy,
      index,
      serial: SERIAL,
      createdAt: new Date(),
      commit: COMMIT,
      publishedBy: PUBLISHER,
    }),
    [options.signer.signing],
  )
  const published = await Effect.runPromise(publishSigned(options.signer, bytes).pipe(Effect.provide(redis)))

  // Two relays reporting the published serial.
  await Effect.runPromise(
    Effect.gen(function* () {
      const fleet = yield* FleetRegistry
      const now = new Date().toISOString()
      for (const relayId of ["relay-a", "relay-b"])
        yield* fleet.beat(
          {
            relayId,
            version: "0.1.0",
            hostname: `${relayId}.mailconnect.test`,
            pid: relayId === "relay-a" ? 4101 : 4102,
            roles: ["ingress", "delivery"],
            bundle: { serial: SERIAL, digest: published.digest, schema: 1 },
            supportedSchemas: [1],
            draining: false,
            http: { host: "127.0.0.1", port: 9580 },
            startedAt: now,
            updatedAt: now,
          },
          "10 minutes",
        )
    }).pipe(Effect.provide(FleetRegistry.layer.pipe(Layer.provide(redis)))),
  )

  // A real worker delivering through smtp-outbound to the lab, with the published policy.
  const outbound = DelivererFromOutbound.pipe(
    Layer.provide(OutboundDelivery.layer),
    Layer.provide(
      Layer.mergeAll(
        OutboundConfig.layer({ ehloName: "relay.mailconnect.test" }),
        DnsResolver.layer([options.lab.dns.server]),
        ClientCertificates.layerStatic({}),
      ),
    ),
  )
  const base = Layer.mergeAll(redis, PolicyView.fixed(policy, index, SERIAL), outbound)
  const runtime = ManagedRuntime.make(
    DeliveryWorker.layer({ concurrency: 2, reportingMta: "relay.mailconnect.test" }).pipe(
      Layer.provideMerge(DeliveryQueue.layer.pipe(Layer.provideMerge(base))),
    ),
  )
  try {
    const queue = await runtime.runPromise(Enqueue)
    const bull = await runtime.runPromise(BullBoardQueue)
    const send = (to: string, subject: string) =>
      runtime.runPromise(
        queue.enqueue({
          sender: "alice@customer.example",
          recipients: [to],
          body: Buffer.from(
            `From: alice@customer.example\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nhello\r\n`,
          ),
        }),
      )
    const deferred = await send("bob@contoso.example", "quarterly figures")
    const delivered = await send("carol@fabrikam.example", "contract draft")
    const settled = async (jobId: string, want: (state: string, data: DeliveryJobData) => boolean) => {
      for (let i = 0; i < 1_200; i++) {
        const job = await bull.queue.getJob(jobId)
        if (job && want(await job.getState(), job.data as DeliveryJobData)) return
        await sleep(25)
      }
      throw new Error(`job ${jobId} did not reach the expected state`)
    }
    await settled(
      deferred.jobIds[0]!,
      (state, data) => state === "delayed" && data.lastFailure?.code === "CERT_EXPIRED",
    )
    await settled(delivered.jobIds[0]!, (state) => state === "completed")
    return {
      digest: published.digest,
      deferredJobId: deferred.jobIds[0]!,
      deliveredJobId: delivered.jobIds[0]!,
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    }
  } finally {
    // The worker stops here: the deferred job stays delayed (its next attempt is minutes away).
    await runtime.dispose()
  }
}
