import { execFileSync } from "node:child_process"
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { canonicalize } from "@mailconnect/bundle"
import { mtaStsPolicyId } from "@mailconnect/policy"
import { beforeAll, describe, expect, it } from "vitest"
import { mailconnect, ROOT, tempDir } from "./policy-cli"

const COMPILER_FIXTURES = "packages/policy-compiler/test/fixtures"
const GOLDEN = join(ROOT, "apps/cli/test/fixtures/golden")

const golden = (name: string, actual: string) => {
  const file = join(GOLDEN, name)
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, actual)
  expect(actual).toBe(readFileSync(file, "utf8"))
}

/** A copy of the example policies to change one thing in. */
const examplesCopy = (): string => {
  const dir = join(tempDir("policies"), "policies")
  cpSync(join(ROOT, "policies"), dir, { recursive: true })
  return dir
}

const replaceIn = (file: string, from: string, to: string) => {
  const text = readFileSync(file, "utf8")
  if (!text.includes(from)) throw new Error(`${file} has no ${from}`)
  writeFileSync(file, text.replace(from, to))
}

describe("policy check", () => {
  it("passes on the example policies (exit 0)", async () => {
    const run = await mailconnect(["policy", "check"])
    expect(run.code).toBe(0)
    expect(run.stdout).toBe(
      "policies: 0 errors, 0 warnings (5 partners, 2 local domains, 1 closed group, 1 connector)\n",
    )
  })

  it("prints every diagnostic of a broken directory and exits 1", async () => {
    const run = await mailconnect(["policy", "check", "--dir", `${COMPILER_FIXTURES}/broken`])
    expect(run.code).toBe(1)
    golden("check-broken.golden.txt", run.stdout)
  })

  it("exits 0 on warnings alone and 1 with --strict", async () => {
    const dir = examplesCopy()
    replaceIn(join(dir, "partners/insurer.yaml"), 'attestedOn: "2026-11-28"', 'attestedOn: "2020-01-01"')
    const [lenient, strict] = await Promise.all([
      mailconnect(["policy", "check", "--dir", dir]),
      mailconnect(["policy", "check", "--dir", dir, "--strict"]),
    ])
    expect(lenient.code).toBe(0)
    expect(lenient.stdout).toMatch(/^partners\/insurer\.yaml:\d+:\d+: warning REVIEW-OVERDUE /)
    expect(strict.code).toBe(1)
    expect(strict.stdout).toMatch(/^partners\/insurer\.yaml:\d+:\d+: error REVIEW-OVERDUE /)
  })

  it("prints the _mta-sts TXT record of each local domain publishing MTA-STS", async () => {
    const dir = examplesCopy()
    replaceIn(
      join(dir, "local.yaml"),
      "    deliverTo: mailbox.acme.example:25\n",
      "    deliverTo: mailbox.acme.example:25\n    mtaSts:\n      mode: enforce\n      maxAge: 7d\n      mx: [mx1.relay.example]\n",
    )
    const id = mtaStsPolicyId({ mode: "enforce", maxAge: 604_800, mx: ["mx1.relay.example"] })
    const run = await mailconnect(["policy", "check", "--dir", dir])
    expect(run.code).toBe(0)
    expect(run.stdout.split("\n").slice(0, 2)).toEqual([
      "MTA-STS DNS records to publish (serve the policy at https://mta-sts.<domain>/.well-known/mta-sts.txt):",
      `  _mta-sts.acme.example. TXT "v=STSv1; id=${id}"`,
    ])
  })

  it("prints the _smtp._tls TXT record of each local domain naming a TLS-RPT address", async () => {
    const dir = examplesCopy()
    replaceIn(
      join(dir, "local.yaml"),
      "    deliverTo: mailbox.acme.example:25\n",
      "    deliverTo: mailbox.acme.example:25\n    tlsRpt:\n      rua: [mailto:tlsrpt@acme.example, 'https://reports.acme.example/tlsrpt?a=1,2']\n",
    )
    const run = await mailconnect(["policy", "check", "--dir", dir])
    expect(run.code).toBe(0)
    expect(run.stdout.split("\n").slice(0, 2)).toEqual([
      "TLS-RPT DNS records to publish (where senders send TLS reports, RFC 8460):",
      '  _smtp._tls.acme.example. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@acme.example,https://reports.acme.example/tlsrpt?a=1%2C2"',
    ])
  })
})

describe("policy compile and verify", () => {
  let keys: string
  let otherKeys: string
  let bundle: string
  let work: string

  beforeAll(async () => {
    work = tempDir("bundle")
    keys = join(work, "keys")
    otherKeys = join(work, "other")
    const generated = await Promise.all([
      mailconnect(["keys", "generate", "--out", keys]),
      mailconnect(["keys", "generate", "--out", otherKeys]),
    ])
    expect(generated.map((r) => r.code)).toEqual([0, 0])
    bundle = join(work, "bundle.json")
    const run = await mailconnect([
      "policy",
      "compile",
      "--key",
      join(keys, "signing.key"),
      "--out",
      bundle,
      "--serial",
      "7",
    ])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^serial 7$/m)
  })

  it("verifies a fresh bundle and prints serial, digest and key id", async () => {
    const run = await mailconnect(["policy", "verify", bundle, "--pubkey", join(keys, "signing.pub")])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^serial 7$/m)
    expect(run.stdout).toMatch(/^digest sha256:[0-9a-f]{64}$/m)
    expect(run.stdout).toMatch(/^key id [0-9a-f]{16}$/m)
    expect(run.stdout).toMatch(/^source [0-9a-f]{40}(-dirty)?$/m)
  })

  it("refuses a changed byte, a wrong key and a missing signature (exit 1)", async () => {
    const bytes = readFileSync(bundle, "utf8")
    const tampered = join(work, "tampered.json")
    writeFileSync(tampered, bytes.replace("smtp-in.bank.example", "smtp-in.bank.examplf"))
    const unsigned = join(work, "unsigned.json")
    writeFileSync(unsigned, canonicalize({ ...JSON.parse(bytes), signatures: [] }))
    const runs = await Promise.all([
      mailconnect(["policy", "verify", tampered, "--pubkey", join(keys, "signing.pub")]),
      mailconnect(["policy", "verify", bundle, "--pubkey", join(otherKeys, "signing.pub")]),
      mailconnect(["policy", "verify", unsigned, "--pubkey", join(keys, "signing.pub")]),
    ])
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1])
    expect(runs[0]!.stderr).toContain("digest mismatch")
    expect(runs[1]!.stderr).toContain("unknown key")
    expect(runs[2]!.stderr).toContain("no signature")
  })

  it("takes the key from MAILCONNECT_SIGNING_KEY, and refuses to run without one", async () => {
    const out = join(work, "from-env.json")
    const [fromEnv, none] = await Promise.all([
      mailconnect(["policy", "compile", "--out", out], {
        MAILCONNECT_SIGNING_KEY: readFileSync(join(keys, "signing.key"), "utf8"),
      }),
      mailconnect(["policy", "compile", "--out", join(work, "none.json")], {
        MAILCONNECT_SIGNING_KEY: undefined,
      }),
    ])
    expect(fromEnv.code).toBe(0)
    expect(none.code).toBe(1)
    expect(none.stderr).toContain("no signing key")
    expect(existsSync(join(work, "none.json"))).toBe(false)
  })

  it("refuses a key inside the policy directory and writes nothing for a broken policy", async () => {
    const dir = examplesCopy()
    cpSync(join(keys, "signing.key"), join(dir, "certs", "signing.key"))
    const [inside, broken] = await Promise.all([
      mailconnect([
        "policy",
        "compile",
        "--dir",
        dir,
        "--key",
        join(dir, "certs", "signing.key"),
        "--out",
        join(work, "x.json"),
      ]),
      mailconnect([
        "policy",
        "compile",
        "--dir",
        `${COMPILER_FIXTURES}/broken`,
        "--key",
        join(keys, "signing.key"),
        "--out",
        join(work, "broken.json"),
      ]),
    ])
    expect(inside.code).toBe(1)
    expect(inside.stderr).toContain("inside the policy directory")
    expect(broken.code).toBe(1)
    expect(broken.stderr).toContain("error AGREEMENT-CONTACT-MISSING")
    expect(existsSync(join(work, "x.json")) || existsSync(join(work, "broken.json"))).toBe(false)
  })

  it("looks a domain up in the directory and in a verified bundle", async () => {
    const [fromDir, fromBundle, unknown] = await Promise.all([
      mailconnect(["policy", "lookup", "mx.insurer.example"]),
      mailconnect([
        "policy",
        "lookup",
        "BANK.example.",
        "--bundle",
        bundle,
        "--pubkey",
        join(keys, "signing.pub"),
        "--format",
        "json",
      ]),
      mailconnect(["policy", "lookup", "elsewhere.example"]),
    ])
    expect(fromDir.code).toBe(0)
    expect(fromDir.stdout).toMatch(/^partner +insurer \(matched \*\.insurer\.example\)$/m)
    expect(fromDir.stdout).toMatch(/^tls\.mode +enforce$/m)
    expect(fromBundle.code).toBe(0)
    const answer = JSON.parse(fromBundle.stdout)
    expect(answer).toMatchObject({
      domain: "bank.example",
      partner: "bank",
      route: ["smtp-in.bank.example:25"],
    })
    expect(answer.tls.pins).toHaveLength(2)
    expect(unknown.stdout).toMatch(/^partner +none \(fleet defaults\)$/m)
    expect(unknown.stdout).toMatch(/^tls\.mode +opportunistic$/m)
  })
})

describe("policy lookup of internationalised domains", () => {
  it("finds a partner by its Unicode or A-label domain, and by a full-width spelling", async () => {
    const dir = examplesCopy()
    writeFileSync(
      join(dir, "partners/mueller.yaml"),
      "apiVersion: mailconnect/v1\nkind: Partner\nname: mueller\ndomains: [müller-bank.de]\n",
    )
    const [unicode, aLabel, fullWidth] = await Promise.all([
      mailconnect(["policy", "lookup", "Müller-Bank.de", "--dir", dir, "--format", "json"]),
      mailconnect(["policy", "lookup", "xn--mller-bank-9db.de", "--dir", dir, "--format", "json"]),
      mailconnect(["policy", "lookup", "ｂａｎｋ．ｅｘａｍｐｌｅ"]),
    ])
    for (const run of [unicode, aLabel]) {
      expect(run.code).toBe(0)
      expect(JSON.parse(run.stdout)).toMatchObject({ domain: "xn--mller-bank-9db.de", partner: "mueller" })
    }
    expect(fullWidth.code).toBe(0)
    expect(fullWidth.stdout).toMatch(/^domain +bank\.example$/m)
    expect(fullWidth.stdout).toMatch(/^partner +bank \(matched bank\.example\)$/m)
    expect(fullWidth.stdout).toMatch(/^inbound\.verify +as tls\.verify$/m)
  })

  it("refuses a domain that does not convert to A-labels", async () => {
    const run = await mailconnect(["policy", "lookup", "bank..example"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('"bank..example" is not a valid domain name')
    expect(run.stdout).toBe("")
  })
})

describe("policy diff", () => {
  const base = `${COMPILER_FIXTURES}/plan/base`
  const head = `${COMPILER_FIXTURES}/plan/head`

  it("renders the plan between two directories as text, markdown and json", async () => {
    const [text, markdown, json] = await Promise.all([
      mailconnect(["policy", "diff", "--base", base, "--head", head]),
      mailconnect(["policy", "diff", "--base", base, "--head", head, "--format", "markdown"]),
      mailconnect(["policy", "diff", "--base", base, "--head", head, "--format", "json"]),
    ])
    expect([text.code, markdown.code, json.code]).toEqual([0, 0, 0])
    golden("diff.golden.txt", text.stdout)
    golden("diff.golden.md", markdown.stdout)
    const plan = JSON.parse(json.stdout)
    expect(plan.format).toBe("mailconnect-plan/1")
    expect(plan.summary).toEqual({ create: 1, update: 4, delete: 1 })
  })

  it("materializes a git revision as the base", async () => {
    const repo = tempDir("repo")
    cpSync(join(ROOT, "policies"), join(repo, "policies"), { recursive: true })
    const git = (...args: Array<string>) =>
      execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.org", ...args], {
        cwd: repo,
      })
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "policies")
    const policies = join(repo, "policies")
    const same = await mailconnect(["policy", "diff", "--base", "HEAD", "--head", policies])
    expect(same.code).toBe(0)
    expect(same.stdout).toContain("No changes.")
    replaceIn(join(policies, "partners/insurer.yaml"), "mode: enforce", "mode: opportunistic")
    const [changed, badRef] = await Promise.all([
      mailconnect(["policy", "diff", "--base", "HEAD", "--head", policies, "--format", "markdown"]),
      mailconnect(["policy", "diff", "--base", "no-such-ref", "--head", policies]),
    ])
    expect(changed.code).toBe(0)
    expect(changed.stdout).toContain("`MODE-DOWNGRADED` partner `insurer`: tls.mode enforce → opportunistic")
    expect(changed.stdout).toContain("1 to change")
    expect(badRef.code).toBe(1)
    expect(badRef.stderr).toContain("neither a directory nor a git revision")
  })
})

describe("--help", () => {
  it("documents every policy subcommand", async () => {
    const runs = await Promise.all(
      ["check", "compile", "verify", "diff", "lookup"].map((sub) => mailconnect(["policy", sub, "--help"])),
    )
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0])
    expect(runs[1]!.stdout).toContain("--serial")
    expect(runs[3]!.stdout).toContain("--format")
  })
})
