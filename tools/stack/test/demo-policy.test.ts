/**
 * The stack's policy — policies/ plus the two demo partners — compiles without a single
 * diagnostic, even under --strict, so `pnpm start` keeps working as policies/ evolves; and the
 * demo partners resolve to enforced TLS against the demo CA.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeContext } from "@effect/platform-node"
import { makeLookup } from "@mailconnect/policy"
import { compileDirectory } from "@mailconnect/policy-compiler"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { writeDemoPolicy } from "../src/demo-policy"
import { stackPaths } from "../src/paths"
import { loadOrCreatePki } from "../src/pki"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const dir = mkdtempSync(join(tmpdir(), "mc-stack-policy-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const endpoint = (domain: string, certName: string, port: number) => ({
  domain,
  certName,
  host: "127.0.0.1",
  port,
})

describe("the stack's demo policy", () => {
  it("compiles cleanly and enforces TLS for both demo partners", async () => {
    const paths = stackPaths(dir)
    const { pki } = await loadOrCreatePki(paths)
    const now = new Date()
    writeDemoPolicy({
      source: join(ROOT, "policies"),
      target: paths.policies,
      partners: {
        good: endpoint("good-partner.demo", pki.good.name, 2525),
        broken: endpoint("broken-partner.demo", pki.broken.name, 2526),
      },
      caPem: pki.caPem,
      now,
    })
    const result = await Effect.runPromise(
      compileDirectory(paths.policies, { now, strict: true }).pipe(Effect.provide(NodeContext.layer)),
    )
    expect(result.diagnostics).toEqual([])
    const lookup = makeLookup(result.policy!, result.index!)
    expect(lookup.effective("good-partner.demo")).toMatchObject({
      partner: { name: "good-partner" },
      tls: { mode: "enforce", verify: { names: ["mx.good-partner.demo"] } },
      servers: [{ host: "127.0.0.1", port: 2525 }],
    })
    expect(lookup.effective("broken-partner.demo")).toMatchObject({
      partner: { name: "broken-partner" },
      tls: { mode: "enforce" },
    })
  })

  it("reuses the PKI on a second start", async () => {
    const paths = stackPaths(dir)
    const first = await loadOrCreatePki(paths)
    const second = await loadOrCreatePki(paths)
    expect(second.created).toBe(false)
    expect(second.pki.caPem).toBe(first.pki.caPem)
  })
})
