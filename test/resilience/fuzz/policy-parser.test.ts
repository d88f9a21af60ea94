/**
 * Fuzz of the policy compiler with random YAML mutations of the real `policies/` files: byte
 * and line edits, YAML-significant characters, hostile values (huge strings, deep nesting, alias
 * bombs, odd tags and numbers). The compiler must never throw, must answer every input with
 * either a policy or at least one error, every diagnostic must name file:line:column and a known
 * rule code, and memory must stay bounded. Bounded in count and time; the seed is printed.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { compileSources, RULE_CODES, type SourceText } from "@mailconnect/policy-compiler"
import { ROOT } from "@mailconnect/test-support"
import { describe, expect, it } from "vitest"
import { forceGc, fuzzSeed, type Prng, prng } from "../support/prng"

const POLICIES = join(ROOT, "policies")
const ITERATIONS = 2_000
const TIME_BUDGET_MS = 45_000

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const full = join(dir, name)
    return statSync(full).isDirectory() ? walk(full) : [full]
  })

const files: Array<SourceText> = []
const attachments = new Map<string, string>()
for (const full of walk(POLICIES)) {
  const path = relative(POLICIES, full)
  if (/\.ya?ml$/.test(path)) files.push({ path, text: readFileSync(full, "utf8") })
  else if (/\.pem$/.test(path)) attachments.set(path, readFileSync(full, "utf8"))
}

const SIGNIFICANT = [
  ":",
  "-",
  "[",
  "]",
  "{",
  "}",
  "&",
  "*",
  "!",
  "|",
  ">",
  "'",
  '"',
  "%",
  "@",
  "`",
  "#",
  ",",
  "\n",
  "\t",
  " ",
  "?",
  "\0",
  "\u00ff",
  "\ufeff",
]

const HOSTILE = [
  () => "x".repeat(100_000),
  () => `${"[".repeat(2_000)}${"]".repeat(2_000)}`,
  () => `${"{a: ".repeat(500)}1${"}".repeat(500)}`,
  // Billion laughs: the YAML library must refuse to expand it.
  () =>
    `&a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]`,
  () => "*undefined_alias",
  () => "!!binary aGVsbG8=",
  () => "!!js/function 'function(){}'",
  () => "!<tag:yaml.org,2002:python/object> {}",
  () => "1e309",
  () => "-0",
  () => "0x7fffffffffffffffffff",
  () => ".nan",
  () => "~",
  () => "2026-13-45",
  () => "'unterminated",
  () => "__proto__",
  () => "{__proto__: {polluted: true}}",
  () => "constructor",
  () => "\u202e\u0000\ud800",
]

/** One random edit of a YAML text. */
const mutate = (text: string, r: Prng): string => {
  const at = r.int(text.length + 1)
  const lines = text.split("\n")
  switch (r.int(8)) {
    case 0: // replace a character
      return text.slice(0, at) + r.pick(SIGNIFICANT) + text.slice(at + 1)
    case 1: // delete a range
      return text.slice(0, at) + text.slice(at + 1 + r.int(40))
    case 2: // duplicate a range
      return text.slice(0, at) + text.slice(at, at + r.int(200)) + text.slice(at)
    case 3: {
      // swap two lines
      const a = r.int(lines.length)
      const b = r.int(lines.length)
      ;[lines[a], lines[b]] = [lines[b]!, lines[a]!]
      return lines.join("\n")
    }
    case 4: {
      // re-indent a line
      const i = r.int(lines.length)
      lines[i] = " ".repeat(r.int(9)) + lines[i]!.trimStart()
      return lines.join("\n")
    }
    case 5: {
      // replace a value after a colon with a hostile one
      const i = r.int(lines.length)
      const colon = lines[i]!.indexOf(":")
      lines[i] = `${colon >= 0 ? lines[i]!.slice(0, colon + 1) : lines[i]!} ${r.pick(HOSTILE)()}`
      return lines.join("\n")
    }
    case 6: // duplicate a line (duplicate keys)
      return lines.flatMap((l, i) => (i === at % lines.length ? [l, l] : [l])).join("\n")
    default: // truncate
      return text.slice(0, at)
  }
}

const isKnownRule = (rule: string) => (RULE_CODES as ReadonlyArray<string>).includes(rule)

describe("policy compiler fuzz", () => {
  it("never throws, answers every mutation with a policy or errors, memory bounded", () => {
    const seed = fuzzSeed()
    const r = prng(seed)
    const now = new Date("2026-11-28T00:00:00Z")
    const baseline = compileSources({ files, attachments, now })
    expect(baseline.policy).toBeDefined()
    const gc = forceGc()
    gc()
    const startHeap = process.memoryUsage().heapUsed
    let peakRss = process.memoryUsage().rss
    let runs = 0
    let rejected = 0
    let compiled = 0
    let diagnostics = 0
    const started = Date.now()
    for (; runs < ITERATIONS && Date.now() - started < TIME_BUDGET_MS; runs++) {
      const mutated = files.map((f) => ({ ...f }))
      const target = r.int(mutated.length)
      let text = mutated[target]!.text
      for (let m = 1 + r.int(3); m > 0; m--) text = mutate(text, r)
      mutated[target] = { path: mutated[target]!.path, text }
      let result: ReturnType<typeof compileSources>
      try {
        result = compileSources({ files: mutated, attachments, now })
      } catch (e) {
        throw new Error(
          `seed ${seed} run ${runs}: compiler threw ${(e as Error).stack}\n--- input ---\n${text.slice(0, 2_000)}`,
        )
      }
      const errors = result.diagnostics.filter((d) => d.severity === "error")
      if (result.policy === undefined) {
        rejected++
        expect(errors.length, `seed ${seed} run ${runs}: no policy but no error`).toBeGreaterThan(0)
      } else {
        compiled++
        expect(errors).toEqual([])
      }
      for (const d of result.diagnostics) {
        diagnostics++
        if (!(isKnownRule(d.rule) && d.line >= 1 && d.column >= 1 && d.file !== "" && d.message !== ""))
          throw new Error(`seed ${seed} run ${runs}: malformed diagnostic ${JSON.stringify(d)}`)
      }
      if (runs % 100 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss)
    }
    gc()
    const heapGrowth = process.memoryUsage().heapUsed - startHeap
    const figures = {
      seed,
      runs,
      compiled,
      rejected,
      diagnostics,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
      heapGrowthMiB: Math.round(heapGrowth / 2 ** 20),
      seconds: Math.round((Date.now() - started) / 1000),
    }
    console.log(`FUZZ-FIGURES policy-parser ${JSON.stringify(figures)}`)
    expect(runs).toBeGreaterThanOrEqual(200)
    // Bounded: nothing retained across runs (a leak of one input per run would be far above this).
    expect(peakRss).toBeLessThan(1024 * 2 ** 20)
    expect(heapGrowth).toBeLessThan(64 * 2 ** 20)
  }, 120_000)
})

describe("policy compiler on alias abuse (found by the fuzz)", () => {
  it.each([
    ["an alias without its anchor", "*nowhere"],
    ["an alias bomb", HOSTILE[3]!()],
  ])("reports %s as YAML-SYNTAX instead of throwing", (_, value) => {
    const defaults = files.find((f) => f.path === "defaults.yaml")!
    const text = `${defaults.text}\nbomb: ${value}\n`
    const result = compileSources({
      files: [...files.filter((f) => f !== defaults), { path: defaults.path, text }],
      attachments,
      now: new Date("2026-11-28T00:00:00Z"),
    })
    expect(result.policy).toBeUndefined()
    expect(result.diagnostics.map((d) => [d.file, d.rule])).toContainEqual(["defaults.yaml", "YAML-SYNTAX"])
  })
})
