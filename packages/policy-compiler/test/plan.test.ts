import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import type { PolicySet } from "@mailconnect/policy"
import { Effect } from "effect"
import {
  canonicalizePlan,
  compileDirectory,
  formatDiagnostic,
  planDiff,
  renderPlanMarkdown,
  renderPlanText,
  verdictLine,
} from "../src"
import { expectGolden, FIXTURES } from "./golden"
import { NOW } from "./scenario"

const load = (name: string) =>
  Effect.gen(function* () {
    const result = yield* compileDirectory(join(FIXTURES, "plan", name), { now: NOW })
    expect(result.diagnostics.map(formatDiagnostic)).toEqual([])
    return result.policy!
  })

const both = Effect.all([load("base"), load("head")]).pipe(Effect.provide(NodeContext.layer))

describe("planDiff", () => {
  it.effect("renders the plan as text, markdown and json (golden)", () =>
    Effect.gen(function* () {
      const [base, head] = yield* both
      const plan = planDiff(base, head)
      expectGolden("plan.golden.txt", renderPlanText(plan, "Policy plan: base → head"))
      expectGolden("plan.golden.md", renderPlanMarkdown(plan, "Policy plan: base → head"))
      expectGolden("plan.golden.json", `${canonicalizePlan(plan)}\n`)
    }),
  )

  it.effect("flags every security-relevant change of the fixture", () =>
    Effect.gen(function* () {
      const [base, head] = yield* both
      const plan = planDiff(base, head)
      expect(plan.summary).toEqual({ create: 1, update: 4, delete: 1 })
      // inbound.verify defaults to tls.verify, so bank's sending servers lose the CA and pin too.
      expect(plan.security.filter((f) => f.message.startsWith("inbound.verify ")).map((f) => f.code)).toEqual(
        ["CA-REMOVED", "PINS-REMOVED"],
      )
      expect(plan.security.map((f) => `${f.code} ${f.name}`)).toEqual([
        "CA-REMOVED bank",
        "CA-REMOVED bank",
        "MIN-VERSION-LOWERED bank",
        "PINS-REMOVED bank",
        "PINS-REMOVED bank",
        "INBOUND-RELAXED court",
        "MODE-DOWNGRADED court",
        "DOMAIN-MOVED lender",
        "DOMAIN-UNPROTECTED oldco",
        "GROUP-MEMBER-ADDED justice",
      ])
    }),
  )

  it.effect("shows domains and route servers written in Unicode or full width as A-labels", () =>
    Effect.gen(function* () {
      const [base, head] = yield* both
      const lender = planDiff(base, head).changes.find((c) => c.name === "lender")!
      const field = (path: string) => lender.fields.find((f) => f.path === path)?.after
      expect(field("domains")).toEqual(["loans.example", "xn--kredit-mller-klb.de"])
      expect(field("servers")).toEqual(["mx.xn--kredit-mller-klb.de:25"])
    }),
  )

  it.effect("says No changes. for identical policies, in every format", () =>
    Effect.gen(function* () {
      const [base] = yield* both
      const plan = planDiff(base, structuredClone(base) as PolicySet)
      expect(plan.changes).toEqual([])
      expectGolden("plan-empty.golden.txt", renderPlanText(plan, "Policy plan: base → base"))
      expectGolden("plan-empty.golden.md", renderPlanMarkdown(plan, "Policy plan: base → base"))
    }),
  )

  it.effect("swapping base and head swaps creates and deletes and flags only weakenings", () =>
    Effect.gen(function* () {
      const [base, head] = yield* both
      const forward = planDiff(base, head)
      const backward = planDiff(head, base)
      expect(backward.summary).toEqual({
        create: forward.summary.delete,
        update: forward.summary.update,
        delete: forward.summary.create,
      })
      // Going back upgrades court to mtls again: only the moves and the re-admission are flagged.
      expect(backward.security.map((f) => `${f.code} ${f.name}`)).toEqual([
        "DOMAIN-MOVED bank",
        "GROUP-MEMBER-ADDED justice",
      ])
    }),
  )

  it.effect("opens with a one-line verdict: what changed by name, then the security flags", () =>
    Effect.gen(function* () {
      const [base, head] = yield* both
      const plan = planDiff(base, head)
      expect(verdictLine(plan)).toBe(
        "4 partners changed (bank, court, lender new, oldco removed), 1 local domain changed (acme.example), " +
          "1 closed group changed (justice), 10 security-relevant changes: court downgraded mtls → enforce; " +
          "bank: inbound.verify private CA certs/bank-ca.pem removed: public roots now accepted; " +
          "bank: private CA certs/bank-ca.pem removed: public roots now accepted; and 7 more",
      )
      expect(renderPlanMarkdown(plan).split("\n")[0]).toBe(`**Verdict: ${verdictLine(plan)}.**`)
      // A downgrade alone reads as a sentence.
      const downgraded = structuredClone(base) as PolicySet
      const bank = downgraded.partners.bank!
      ;(downgraded.partners as Record<string, unknown>).bank = {
        ...bank,
        tls: { ...bank.tls, mode: "opportunistic" },
      }
      expect(verdictLine(planDiff(base, downgraded))).toBe(
        "1 partner changed (bank), 1 security-relevant change: bank downgraded enforce → opportunistic",
      )
      expect(verdictLine(planDiff(base, base))).toBe("no effective change")
    }),
  )
})
