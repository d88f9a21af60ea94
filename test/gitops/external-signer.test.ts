/**
 * `policy compile --sign-command`: the Ed25519 key stays with an external signer — here a local
 * stand-in for Vault's transit engine, called with the documented curl command — and the
 * compiling machine only holds a URL, a token and the public key. Attacks: a signer answering
 * with another key's signature, a refused token, garbage, both a key and a signer at once, and
 * a signer that never answers are all refused without writing a bundle.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { generateSigningKeyPair } from "@mailconnect/bundle"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mailconnect } from "./support/cli"
import { ROOT } from "./support/policy-repo"
import { startTransitSigner, type TransitSigner, VAULT_SIGN_COMMAND } from "./support/transit-signer"

const POLICIES = join(ROOT, "policies")
const key = generateSigningKeyPair()
const other = generateSigningKeyPair()
let dir: string
let transit: TransitSigner
let pubkey: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mc-signer-"))
  pubkey = join(dir, "signer.pub")
  writeFileSync(pubkey, key.publicPem)
  writeFileSync(join(dir, "other.key"), other.privatePem)
  transit = await startTransitSigner({ mailconnect: key.privatePem, impostor: other.privatePem })
})

afterAll(async () => {
  await transit?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const vaultEnv = (token = transit.token) => ({
  VAULT_ADDR: transit.url,
  VAULT_TOKEN: token,
  MAILCONNECT_SIGNING_KEY: undefined,
  MAILCONNECT_SIGN_COMMAND: undefined,
})

const compile = (out: string, args: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  mailconnect(["policy", "compile", "--dir", POLICIES, "--out", join(dir, out), ...args], env)

describe("policy compile with an external signer", () => {
  it("imports the signer's public key as Vault hands it out (raw, base64) and refuses a malformed one", async () => {
    const answer = await fetch(`${transit.url}/v1/transit/keys/mailconnect`, {
      headers: { "X-Vault-Token": transit.token },
    })
    const raw = ((await answer.json()) as { data: { keys: Record<string, { public_key: string }> } }).data
      .keys["1"]!.public_key
    const imported = join(dir, "imported.pub")
    const run = await mailconnect(["keys", "import-public", "--raw-base64", raw, "--out", imported])
    expect(run.code, run.stderr).toBe(0)
    expect(readFileSync(imported, "utf8")).toBe(key.publicPem)
    expect(run.stdout).toContain(`key id ${key.keyId}`)
    const short = Buffer.from(raw, "base64").subarray(0, 31).toString("base64")
    const [truncated, garbage] = await Promise.all([
      mailconnect(["keys", "import-public", "--raw-base64", short, "--out", join(dir, "short.pub")]),
      mailconnect(["keys", "import-public", "--raw-base64", "not base64!", "--out", join(dir, "bad.pub")]),
    ])
    expect(truncated.code).toBe(1)
    expect(truncated.stderr).toContain("32 bytes, got 31")
    expect(garbage.code).toBe(1)
    expect(existsSync(join(dir, "short.pub")) || existsSync(join(dir, "bad.pub"))).toBe(false)
  }, 60_000)

  it("signs through Vault's transit API: the key never leaves the signer, the bundle verifies", async () => {
    const run = await compile(
      "vault.json",
      ["--sign-command", VAULT_SIGN_COMMAND, "--sign-pubkey", pubkey],
      vaultEnv(),
    )
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/^key id [0-9a-f]{16} \(external signer\)$/m)
    const envelope = JSON.parse(readFileSync(join(dir, "vault.json"), "utf8")) as { payload: string }
    // The signer was asked for exactly the canonical payload bytes, once.
    const asked = transit.requests.filter((r) => r.status === 200)
    expect(asked.at(-1)!.inputSha256).toBe(
      createHash("sha256").update(envelope.payload, "utf8").digest("hex"),
    )
    const verify = await mailconnect(["policy", "verify", join(dir, "vault.json"), "--pubkey", pubkey])
    expect(verify.code, verify.stderr).toBe(0)
  }, 60_000)

  it("takes the signer from MAILCONNECT_SIGN_COMMAND and MAILCONNECT_SIGN_PUBKEY (CI variables)", async () => {
    const run = await compile("env.json", [], {
      ...vaultEnv(),
      MAILCONNECT_SIGN_COMMAND: VAULT_SIGN_COMMAND,
      MAILCONNECT_SIGN_PUBKEY: pubkey,
    })
    expect(run.code, run.stderr).toBe(0)
    expect(existsSync(join(dir, "env.json"))).toBe(true)
  }, 60_000)

  it("refuses another key's signature, a refused token, garbage and a hanging signer; writes nothing", async () => {
    const impostor = VAULT_SIGN_COMMAND.replace("transit/sign/mailconnect", "transit/sign/impostor")
    const local = `node -e 'const c=require("node:crypto");const d=require("node:fs").readFileSync(0);process.stdout.write(c.sign(null,d,c.createPrivateKey(require("node:fs").readFileSync(process.argv[1],"utf8"))).toString("base64"))' ${join(dir, "other.key")}`
    const cases = [
      { out: "impostor.json", command: impostor, error: "does not verify with the public key" },
      { out: "local-other.json", command: local, error: "does not verify with the public key" },
      {
        out: "token.json",
        command: VAULT_SIGN_COMMAND,
        token: "hvs.stolen",
        error: "The requested URL returned error: 403",
      },
      {
        out: "garbage.json",
        command: "cat > /dev/null; echo not-a-signature",
        error: "printed no base64 signature",
      },
      { out: "empty.json", command: "cat > /dev/null", error: "printed no base64 signature" },
    ]
    const runs = await Promise.all(
      cases.map((c) =>
        compile(c.out, ["--sign-command", c.command, "--sign-pubkey", pubkey], vaultEnv(c.token)),
      ),
    )
    for (const [i, c] of cases.entries()) {
      expect(runs[i]!.code, `${c.out}: ${runs[i]!.stderr}`).toBe(1)
      expect(runs[i]!.stderr).toContain(c.error)
      expect(existsSync(join(dir, c.out))).toBe(false)
    }
    const started = Date.now()
    const hanging = await compile(
      "hanging.json",
      ["--sign-command", "sleep 30", "--sign-pubkey", pubkey, "--sign-timeout", "1"],
      vaultEnv(),
    )
    expect(hanging.code).toBe(1)
    expect(hanging.stderr).toContain("no signature within 1 s")
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(existsSync(join(dir, "hanging.json"))).toBe(false)
  }, 90_000)

  it("refuses a key and a signer at once, and a signer without its public key", async () => {
    writeFileSync(join(dir, "k.key"), key.privatePem)
    const [both, nokey] = await Promise.all([
      compile(
        "both.json",
        ["--key", join(dir, "k.key"), "--sign-command", "true", "--sign-pubkey", pubkey],
        vaultEnv(),
      ),
      compile("nokey.json", ["--sign-command", VAULT_SIGN_COMMAND], vaultEnv()),
    ])
    expect(both.code).toBe(1)
    expect(both.stderr).toContain("either --key or --sign-command")
    expect(nokey.code).toBe(1)
    expect(nokey.stderr).toContain("--sign-pubkey FILE or MAILCONNECT_SIGN_PUBKEY")
  }, 60_000)
})
