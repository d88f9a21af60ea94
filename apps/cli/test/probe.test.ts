/** `mailconnect probe … --json` as an operator runs it, against partner-lab servers on loopback. */
import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Lab, type ScenarioName, startLab } from "@mailconnect/partner-lab"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let lab: Lab
let dir: string
let caFile: string

beforeAll(async () => {
  lab = await startLab({ scenarios: ["good", "expired", "wrong-name", "rotated-key", "no-starttls"] })
  dir = await mkdtemp(join(tmpdir(), "probe-"))
  caFile = join(dir, "lab-root.pem")
  await writeFile(caFile, lab.pki.root.certPem)
})
afterAll(async () => {
  await lab.stop()
  await rm(dir, { recursive: true, force: true })
})

const probe = (name: ScenarioName, ...extra: Array<string>) => {
  const scenario = lab.scenario(name)
  const args = ["apps/cli/src/main.ts", "probe", `127.0.0.1:${scenario.port}`, "--name", scenario.name]
  args.push("--ca", caFile, ...extra, "--json")
  return new Promise<{ status: number; report: Record<string, any> }>((resolve, reject) => {
    execFile(
      "node_modules/.bin/tsx",
      args,
      { cwd: join(__dirname, "../../.."), timeout: 30_000 },
      (error, stdout) => {
        const status = error ? (typeof error.code === "number" ? error.code : -1) : 0
        try {
          resolve({ status, report: JSON.parse(stdout) })
        } catch (parse) {
          reject(new Error(`probe printed no JSON (status ${status}): ${stdout} ${String(parse)}`))
        }
      },
    )
  })
}

describe("mailconnect probe --json", () => {
  it("good: ok, exit 0, evidence and suggested pins", async () => {
    const { status, report } = await probe("good")
    expect(status).toBe(0)
    expect(report.ok).toBe(true)
    const server = report.servers[0]
    expect(server.verdict).toBe("ok")
    expect(server.evidence.tls.protocol).toBe("TLSv1.3")
    expect(server.evidence.tls.verification).toMatchObject({ ok: true, matchedName: "good.lab.test" })
    expect(server.suggestedPins[0]).toBe(lab.scenario("good").certificate.pin)
    expect(server.evidence.transcript.some((l: { line: string }) => l.line.startsWith("MAIL"))).toBe(false)
    expect(lab.scenario("good").recorder.mailFroms()).toEqual([])
  })

  it("expired: CERT_EXPIRED, exit 1, notAfter shown", async () => {
    const { status, report } = await probe("expired")
    expect(status).toBe(1)
    expect(report.servers[0].verdict).toBe("CERT_EXPIRED")
    expect(report.servers[0].evidence.tls.peer.notAfter).toBe(
      lab.scenario("expired").certificate.notAfter.toISOString(),
    )
  })

  it("wrong-name: CERT_NAME_MISMATCH with the names presented", async () => {
    const { status, report } = await probe("wrong-name")
    expect(status).toBe(1)
    expect(report.servers[0]).toMatchObject({
      verdict: "CERT_NAME_MISMATCH",
      failure: { facts: { expected: ["wrong-name.lab.test"], presented: ["mail.elsewhere.test"] } },
    })
  })

  it("pin mismatch: CERT_PIN_MISMATCH, diagnosed, with the pin to add", async () => {
    const scenario = lab.scenario("rotated-key")
    const { status, report } = await probe("rotated-key", "--pin", scenario.previousCertificate!.pin)
    expect(status).toBe(1)
    expect(report.servers[0]).toMatchObject({
      verdict: "CERT_PIN_MISMATCH",
      failure: {
        facts: { diagnosis: { kind: "new-key-same-names-issuer", pinToAdd: scenario.certificate.pin } },
      },
      suggestedPins: [scenario.certificate.pin, lab.pki.issuer.pin, lab.pki.root.pin],
    })
  })

  it("STARTTLS missing: STARTTLS_NOT_OFFERED", async () => {
    const { status, report } = await probe("no-starttls")
    expect(status).toBe(1)
    expect(report.servers[0]).toMatchObject({
      verdict: "STARTTLS_NOT_OFFERED",
      failure: { facts: { form: "not-advertised" } },
    })
  })
})
