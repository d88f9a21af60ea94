/**
 * An external Ed25519 signer for `policy compile --sign-command CMD`: the private key stays in
 * Vault's transit engine, a cloud KMS or an HSM, never on the machine that compiles. `CMD` runs
 * through `sh -c` with the exact bytes to sign (the canonical payload) on stdin and must print the
 * signature on stdout: standard base64 of the 64 raw bytes, optionally with Vault's `vault:vN:`
 * prefix (what `vault write -field=signature transit/sign/…` prints). The environment is passed
 * on (VAULT_ADDR, VAULT_TOKEN, cloud credentials).
 *
 * Trusts nothing the command returns: the caller verifies the signature against the public key
 * named by `--sign-pubkey` before a bundle is written (`assembleBundle`). Touches: one child
 * process group, killed when it outlives `timeoutMs` or the command is interrupted.
 */
import { spawn } from "node:child_process"
import { Effect } from "effect"
import { CliExit } from "../exit"

export const SIGN_COMMAND_ENV = "MAILCONNECT_SIGN_COMMAND"
export const SIGN_PUBKEY_ENV = "MAILCONNECT_SIGN_PUBKEY"
export const SIGN_TIMEOUT_MS = 60_000

const fail = (message: string) => new CliExit({ code: 1, message: `external signer: ${message}` })

/** `vault:v3:BASE64` or `BASE64`, surrounded by whitespace → the raw signature bytes. */
export const parseSignatureOutput = (stdout: string): Buffer | undefined => {
  const text = stdout.trim().replace(/^vault:v\d+:/, "")
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined
  const raw = Buffer.from(text, "base64")
  // One true encoding only, like the envelope's verifier.
  return raw.toString("base64") === text ? raw : undefined
}

export const runSignCommand = (command: string, bytes: Buffer, timeoutMs = SIGN_TIMEOUT_MS) =>
  Effect.async<Buffer, CliExit>((resume) => {
    // Its own process group: a pipeline's every process goes when it is stopped, not only `sh`.
    const child = spawn("sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"], detached: true })
    const killAll = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
    let stdout = ""
    let stderr = ""
    let done = false
    const finish = (result: Effect.Effect<Buffer, CliExit>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(result)
    }
    const timer = setTimeout(() => {
      killAll()
      finish(Effect.fail(fail(`no signature within ${timeoutMs / 1000} s; stopped it`)))
    }, timeoutMs)
    child.stdout.on("data", (chunk: Buffer) => {
      stdout = (stdout + chunk.toString()).slice(-64 * 1024)
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-8 * 1024)
    })
    child.on("error", (error) => finish(Effect.fail(fail(`cannot run: ${error.message}`))))
    child.on("close", (code, signal) => {
      if (code !== 0)
        return finish(
          Effect.fail(
            fail(`exited with ${code ?? signal}${stderr.trim() ? `: ${stderr.trim().slice(-500)}` : ""}`),
          ),
        )
      const signature = parseSignatureOutput(stdout)
      finish(
        signature
          ? Effect.succeed(signature)
          : Effect.fail(
              fail(
                `printed no base64 signature on stdout (expected BASE64 or vault:vN:BASE64)${stderr.trim() ? `; stderr: ${stderr.trim().slice(-500)}` : ""}`,
              ),
            ),
      )
    })
    // A signer that does not read its input is its own business; the pipe error must not crash us.
    child.stdin.on("error", () => undefined)
    child.stdin.end(bytes)
    return Effect.sync(() => {
      clearTimeout(timer)
      killAll()
    })
  })
