/**
 * The world of the GitOps loop test, shared by the GitHub and the GitLab run: a relay stack
 * (real Redis, partner lab, two relay processes), the operator's policy repository naming lab
 * servers, and the two proposals — onboarding the enforce partner `fresh` (whose mail waits
 * meanwhile: its MX is a dead host) and downgrading `bank` to opportunistic.
 *
 * `bank`'s yearly review lapsed: an untouched `bank` warns on the onboarding PR, and the
 * downgrade, which touches bank.yaml, fails the strict check — as the policy says it should.
 */
import {
  DEFAULTS_YAML,
  type SmtpRelay,
  type Stack,
  startStack,
  submit,
  waitFor,
} from "@mailconnect/test-support"
import { createPolicyRepo, day, type PolicyRepo } from "./policy-repo"
import { installShims, type Shims } from "./shims"

export const FRESH_DOMAIN = "fresh.example"

const agreement = (reference: string) => `agreement:
  reference: ${reference}
  signedOn: "${day(-40)}"
  confirmedOn: "${day(-39)}"
  confirmedBy: Customer Example GmbH, ticket CS-1
  technicalContacts:
    - name: Partner Messaging Team
      email: messaging@partner.example`

export const partnerYaml = (
  name: string,
  domain: string,
  server: { host: string; port: number },
  certificateName: string,
  attestedOn: string,
) => `# ${name}: enforced TLS to its gateway in the partner lab, its private CA.
apiVersion: mailconnect/v1
kind: Partner
name: ${name}
${agreement(`AGR-${name.toUpperCase()}`)}
domains:
  - ${domain}
route:
  servers:
    - ${server.host}:${server.port}
tls:
  mode: enforce
  minVersion: TLSv1.2
  verify:
    trust: pkix
    names:
      - ${certificateName}
    ca: certs/lab-ca.pem
  review:
    attestedOn: "${attestedOn}"
    every: 1y
`

export interface LoopWorld {
  readonly stack: Stack
  readonly relays: ReadonlyArray<SmtpRelay>
  readonly repo: PolicyRepo
  readonly shims: Shims
  /** Environment of the CI machine: the shims first on PATH, DNS of the lab for the probe. */
  readonly machineEnv: Readonly<Record<string, string>>
  readonly stop: () => Promise<void>
}

export const startLoopWorld = async (): Promise<LoopWorld> => {
  const stack = await startStack(["closed-port"])
  const relays: Array<SmtpRelay> = []
  let repo: PolicyRepo | undefined
  try {
    const good = stack.partners.scenario("good")
    // fresh.example's public MX is a host where nothing listens: until the agreement's route is
    // in the policy, its mail waits (connection refused: a temporary failure).
    stack.partners.dns.set(FRESH_DOMAIN, [
      { type: "MX", preference: 10, exchange: stack.partners.scenario("closed-port").name },
    ])
    repo = createPolicyRepo({
      "policies/defaults.yaml": DEFAULTS_YAML,
      "policies/local.yaml": `apiVersion: mailconnect/v1
kind: LocalDomains
domains:
  - domain: customer.example
    deliverTo: ${good.host}:${good.port}
`,
      "policies/certs/lab-ca.pem": stack.partners.pki.root.certPem,
      "policies/partners/bank.yaml": partnerYaml("bank", "bank.example", good, good.name, day(-400)),
    })
    const shims = installShims(repo.dir)
    for (const id of ["relay-a", "relay-b"]) relays.push(await stack.startRelay(id))
    const world: LoopWorld = {
      stack,
      relays,
      repo,
      shims,
      machineEnv: { ...shims.env, RELAY_DNS_SERVERS: stack.partners.dns.server },
      stop: async () => {
        await Promise.all(relays.map((r) => r.stop("SIGKILL")))
        await stack.stop()
        repo?.remove()
      },
    }
    return world
  } catch (error) {
    await Promise.all(relays.map((r) => r.stop("SIGKILL")))
    await stack.stop()
    repo?.remove()
    throw error
  }
}

/** The onboarding proposal: `fresh` on the lab's good server, attested today. */
export const onboardFresh = (world: LoopWorld) => {
  const good = world.stack.partners.scenario("good")
  return world.repo.propose("onboard-fresh", "Onboard fresh (AGR-FRESH)", () =>
    world.repo.write(
      "policies/partners/fresh.yaml",
      partnerYaml("fresh", FRESH_DOMAIN, good, good.name, day(0)),
    ),
  )
}

/** A partner register imported in one proposal: more partners than a comment can show. */
export const importRegister = (world: LoopWorld, count: number) => {
  const good = world.stack.partners.scenario("good")
  return world.repo.propose("import-register", `Import ${count} partners from the agreement register`, () => {
    for (let i = 1; i <= count; i++)
      world.repo.write(
        `policies/partners/registered-${i}.yaml`,
        partnerYaml(`registered-${i}`, `registered-${i}.example`, good, good.name, day(0)),
      )
  })
}

export const downgradeBank = (world: LoopWorld) =>
  world.repo.propose("downgrade-bank", "bank: opportunistic while their gateway is replaced", () =>
    world.repo.edit("policies/partners/bank.yaml", "mode: enforce", "mode: opportunistic"),
  )

/** Deferrals counted by a relay (any code, any partner). */
const deferrals = async (relay: SmtpRelay) =>
  [...(await relay.metrics())]
    .filter(([k]) => k.startsWith("mc_deliveries_total{") && k.includes('result="deferred"'))
    .reduce((sum, [, v]) => sum + v, 0)

/** Submits a message for fresh.example and waits until a relay — either: they share the queue — has deferred it. */
export const deferredForFresh = async (world: LoopWorld, subject: string) => {
  const before = (await Promise.all(world.relays.map(deferrals))).reduce((a, b) => a + b, 0)
  const sent = await submit(world.relays[0]!, world.stack.relayCa, [`clerk@${FRESH_DOMAIN}`], subject)
  if (!sent.ok) throw new Error(`submission refused: ${sent.response}`)
  await waitFor(
    `the message for ${FRESH_DOMAIN} to be deferred`,
    async () =>
      (await Promise.all(world.relays.map(deferrals))).reduce((a, b) => a + b, 0) > before ? true : undefined,
    { timeoutMs: 30_000, output: () => world.relays.map((r) => r.output()).join("\n") },
  )
  return sent
}

/** Waits until the good server received a message with this subject. */
export const deliveredToFresh = (world: LoopWorld, subject: string) =>
  waitFor(
    `the waiting message "${subject}" to be delivered to fresh's gateway`,
    () => {
      const good = world.stack.partners.scenario("good")
      const message = good.recorder
        .messages()
        .find((m) => (m.body?.toString() ?? "").includes(`Subject: ${subject}`))
      return message
    },
    { timeoutMs: 30_000, output: () => world.relays.map((r) => r.output()).join("\n") },
  )

/** The serials the relays report as active, by their metrics. */
export const activeSerials = (world: LoopWorld) => Promise.all(world.relays.map((r) => r.activeSerial()))
