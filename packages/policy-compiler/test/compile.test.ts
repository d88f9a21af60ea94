import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { generateSigningKeyPair, parseSigningKey, signBundle } from "@mailconnect/bundle"
import { CURRENT_SCHEMA, makeLookup } from "@mailconnect/policy"
import { Effect, TestClock } from "effect"
import { buildPayload, compileDirectory, compileSources, formatDiagnostic } from "../src"
import { expectGolden, FIXTURES } from "./golden"
import { mintTestCertificates } from "./pki"
import { baseFiles, compile, NOW } from "./scenario"

const EXAMPLES = fileURLToPath(new URL("../../../policies", import.meta.url))

describe("compileDirectory", () => {
  it.effect("reports every error of a broken directory in one run", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW.getTime())
      const result = yield* compileDirectory(join(FIXTURES, "broken"))
      expect(result.policy).toBeUndefined()
      expect(result.index).toBeUndefined()
      expectGolden("broken.golden.txt", `${result.diagnostics.map(formatDiagnostic).join("\n")}\n`)
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("takes 'now' from the Clock: the example policies are clean today and a year on", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW.getTime())
      const today = yield* compileDirectory(EXAMPLES, { strict: true })
      expect(today.diagnostics.map(formatDiagnostic)).toEqual([])
      yield* TestClock.adjust("365 days")
      const nextYear = yield* compileDirectory(EXAMPLES, { strict: true })
      expect(nextYear.diagnostics.map(formatDiagnostic)).toEqual([])
      yield* TestClock.adjust("2 days")
      const overdue = yield* compileDirectory(EXAMPLES)
      expect(overdue.diagnostics.every((d) => d.rule === "REVIEW-OVERDUE")).toBe(true)
      expect(overdue.diagnostics.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("resolves the example policies", () =>
    Effect.gen(function* () {
      const { policy, index } = yield* compileDirectory(EXAMPLES, { now: NOW })
      const lookup = makeLookup(policy!, index!)
      expect(lookup.partnerFor("mx.insurer.example")?.name).toBe("insurer")
      expect(lookup.effective("bank.example").tls.verify.pins).toHaveLength(2)
      expect(lookup.effective("bank.example").tls.verify.ca?.file).toBe("certs/bank-ca.pem")
      expect(lookup.effective("court.example").tls.mode).toBe("mtls")
      expect(lookup.localDomain("lawfirm.example")?.groups).toEqual(["justice"])
      expect(lookup.effective("unknown.example").tls.mode).toBe("opportunistic")
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("fails with PolicyDirectoryUnreadable for a missing directory", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(compileDirectory(join(FIXTURES, "no-such-dir"), { now: NOW }))
      expect(error._tag).toBe("PolicyDirectoryUnreadable")
    }).pipe(Effect.provide(NodeContext.layer)),
  )
})

describe("resolution", () => {
  it("folds defaults into each partner and embeds certificates", async () => {
    const certs = await mintTestCertificates()
    const { policy } = compile(baseFiles(certs), certs)
    const bank = policy!.partners.bank!
    expect(bank.retry).toEqual({
      schedule: [300_000, 600_000, 1_200_000, 2_400_000],
      every: 3_600_000,
      warnAfter: 14_400_000,
      expireAfter: 864_000_000,
    })
    expect(bank.servers).toEqual([{ host: "smtp.bank.example", port: 25 }])
    expect(bank.tls.verify.trust).toBe("pkix")
    expect(bank.tls.verify.ca?.pem).toBe(certs.ca.pem)
    expect(bank.tls.verify.ca?.notAfter).toBe("2031-01-01T00:00:00.000Z")
    expect(bank.tls.verify.certificate?.file).toBe("certs/leaf.pem")
    expect(bank.tls.review).toEqual({ attestedOn: "2026-06-01", every: 31_536_000_000, dueOn: "2027-06-01" })
    expect(bank.inbound).toEqual({
      requireTls: true,
      requireClientCertificate: false,
      verify: bank.tls.verify,
    })
    const court = policy!.partners.court!
    expect(court.tls.minVersion).toBe("TLSv1.2")
    expect(court.inbound).toEqual({
      requireTls: true,
      requireClientCertificate: true,
      verify: court.tls.verify,
    })
    expect(court.groups).toEqual(["justice"])
    expect(policy!.localDomains["lawfirm.example"]?.deliverTo).toEqual({
      host: "mailbox.lawfirm.example",
      port: 25,
    })
  })
})

describe("determinism", () => {
  it("compiles the same input twice into identical bundle bytes, whatever the file order", async () => {
    const certs = await mintTestCertificates()
    const files = baseFiles(certs)
    const key = await Effect.runPromise(parseSigningKey(generateSigningKeyPair().privatePem, "test"))
    const bundle = (entries: Array<[string, string]>) => {
      const { policy, index } = compileSources({
        files: entries.map(([path, text]) => ({ path, text })),
        attachments: new Map([
          ["certs/ca.pem", certs.ca.pem],
          ["certs/leaf.pem", certs.leaf.pem],
        ]),
        now: NOW,
      })
      const payload = buildPayload({
        policy: policy!,
        index: index!,
        serial: 42,
        createdAt: NOW,
        commit: "abc123",
      })
      expect(payload.schema).toBe(CURRENT_SCHEMA)
      return signBundle(payload, [key])
    }
    const forward = Object.entries(files)
    const first = bundle(forward)
    expect(bundle(forward)).toBe(first)
    expect(bundle([...forward].reverse())).toBe(first)
  })
})
