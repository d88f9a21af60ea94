/** Test wiring: the partner lab, an OutboundDelivery runtime against it, and policies per scenario. */
import type { Lab, LabScenario, ScenarioName } from "@mailconnect/partner-lab"
import type { EffectivePolicy, PartnerTls, TlsVerify } from "@mailconnect/policy"
import { Effect, Layer, ManagedRuntime } from "effect"
import { expect } from "vitest"
import {
  ClientCertificates,
  type DeliveryError,
  type DeliveryReport,
  DnsResolver,
  OutboundConfig,
  OutboundDelivery,
  type OutboundSettings,
} from "../src/index"

export const RETRY = {
  schedule: [300_000],
  every: 3_600_000,
  warnAfter: 14_400_000,
  expireAfter: 864_000_000,
}

export const runtimeFor = (lab: Lab, settings: Partial<OutboundSettings> = {}) =>
  ManagedRuntime.make(
    OutboundDelivery.layer.pipe(
      Layer.provide(
        Layer.mergeAll(
          OutboundConfig.layer({
            ehloName: "relay.mailconnect.test",
            timeouts: { connectMs: 2_000, greetingMs: 2_000, commandMs: 5_000, tlsMs: 2_000, dataMs: 10_000 },
            ...settings,
          }),
          DnsResolver.layer([lab.dns.server]),
          ClientCertificates.layerStatic({
            relay: { cert: lab.pki.relayClient.chainPem, key: lab.pki.relayClient.keyPem },
            stranger: { cert: lab.pki.strangerClient.chainPem, key: lab.pki.strangerClient.keyPem },
          }),
        ),
      ),
    ),
  )

export type TlsOverrides = Partial<Omit<PartnerTls, "verify">> & { verify?: Partial<TlsVerify> }

export const partnerTls = (lab: Lab, overrides: TlsOverrides = {}): PartnerTls => ({
  mode: "enforce",
  minVersion: "TLSv1.2",
  ...overrides,
  verify: {
    trust: "pkix",
    names: [],
    pins: [],
    ca: { file: "certs/lab-root.pem", pem: lab.pki.root.certPem, sha256: "", notAfter: "" },
    ...overrides.verify,
  },
})

export const policyFor = (
  lab: Lab,
  scenario: LabScenario,
  overrides: TlsOverrides = {},
): EffectivePolicy => ({
  domain: `partner.${scenario.name}`,
  partner: undefined,
  tls: partnerTls(lab, overrides),
  retry: RETRY,
  servers: [{ host: scenario.name, port: scenario.port }],
})

export const message = (size = 512): Buffer =>
  Buffer.from(
    `From: relay@mailconnect.test\r\nTo: someone@partner.test\r\nSubject: lab\r\n\r\n${".line\r\n".repeat(Math.ceil(size / 7))}`,
  )

export const deliver = (
  runtime: ReturnType<typeof runtimeFor>,
  lab: Lab,
  scenario: LabScenario,
  overrides: TlsOverrides = {},
  recipients: ReadonlyArray<string> = ["someone@partner.test"],
) => deliverTo(runtime, `partner.${scenario.name}`, policyFor(lab, scenario, overrides), recipients)

/** One delivery to `domain` under an explicit policy (e.g. routed by the lab's DNS). */
export const deliverTo = (
  runtime: ReturnType<typeof runtimeFor>,
  domain: string,
  policy: EffectivePolicy,
  recipients: ReadonlyArray<string> = [`someone@${domain}`],
) =>
  runtime.runPromise(
    Effect.either(
      Effect.flatMap(OutboundDelivery, (delivery) =>
        delivery.deliver({
          domain,
          recipients,
          sender: "sender@customer.test",
          body: message(),
          policy,
          bundleSerial: 42,
        }),
      ),
    ),
  )

export const failureOf = (
  result: { _tag: "Left"; left: DeliveryError } | { _tag: "Right"; right: DeliveryReport },
) => {
  if (result._tag === "Right")
    throw new Error(`expected a failure, got ${JSON.stringify(result.right.recipients)}`)
  // A plain copy: vitest's diff of Effect's error classes recurses without end.
  return JSON.parse(JSON.stringify(result.left)) as DeliveryError & Record<string, unknown>
}

export const reportOf = (
  result: { _tag: "Left"; left: DeliveryError } | { _tag: "Right"; right: DeliveryReport },
) => {
  if (result._tag === "Left")
    throw new Error(`expected delivery, got ${result.left.code}: ${result.left.detail}`)
  return JSON.parse(JSON.stringify(result.right)) as DeliveryReport
}

/** Before each test: forget what the lab's servers received. */
export const clearRecorders = (lab: Lab): void => {
  for (const scenario of lab.scenarios) scenario.recorder.clear()
}

/** The server behind the scenario received no MAIL FROM and no message byte. */
export const expectNothingReceived = (lab: Lab, name: ScenarioName): void => {
  const recorder = lab.scenario(name).recorder
  expect(recorder.mailFroms()).toEqual([])
  expect(recorder.bodyBytes()).toBe(0)
}

/** Runs `use` with a runtime of its own settings against the lab, disposed afterwards. */
export const withRuntime = async (
  lab: Lab,
  settings: Partial<OutboundSettings>,
  use: (runtime: ReturnType<typeof runtimeFor>) => Promise<void>,
): Promise<void> => {
  const runtime = runtimeFor(lab, settings)
  try {
    await use(runtime)
  } finally {
    await runtime.dispose()
  }
}
