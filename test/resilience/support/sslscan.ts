/**
 * `sslscan` (Debian package) against a listener, summarised from its XML: which protocol
 * versions are enabled and which ciphers are accepted. Installed with apt-get when missing and
 * we are root (CI runs as root on Debian); otherwise the test fails with the command to run.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"

export interface ScanSummary {
  readonly target: string
  readonly enabledProtocols: ReadonlyArray<string>
  readonly ciphers: ReadonlyArray<{
    readonly protocol: string
    readonly name: string
    readonly bits: number
    readonly strength: string
  }>
}

const has = (command: string) =>
  spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0

export const ensureSslscan = () => {
  if (has("sslscan")) return
  if (process.getuid?.() !== 0 || !has("apt-get"))
    throw new Error("sslscan is missing: apt-get install -y sslscan (the TLS scan needs it)")
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore", env })
  execFileSync("apt-get", ["install", "-y", "-qq", "sslscan"], { stdio: "ignore", env })
}

const attributes = (tag: string): Record<string, string> =>
  Object.fromEntries([...tag.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))

export const parseSslscanXml = (target: string, xml: string): ScanSummary => ({
  target,
  enabledProtocols: [...xml.matchAll(/<protocol [^>]*>/g)]
    .map((m) => attributes(m[0]))
    .filter((a) => a.enabled === "1")
    .map((a) => `${a.type}${a.version}`),
  ciphers: [...xml.matchAll(/<cipher [^>]*>/g)]
    .map((m) => attributes(m[0]))
    .filter((a) => a.status === "accepted" || a.status === "preferred")
    .map((a) => ({
      protocol: a.sslversion ?? "",
      name: a.cipher ?? "",
      bits: Number(a.bits ?? 0),
      strength: a.strength ?? "",
    })),
})

/** Runs one scan (bounded by a timeout); `starttls` for the STARTTLS ports. */
export const sslscan = (port: number, starttls: boolean): Promise<ScanSummary> =>
  new Promise((resolve, reject) => {
    const target = `127.0.0.1:${port}`
    const child = spawn(
      "sslscan",
      ["--xml=-", "--no-colour", "--no-heartbleed", ...(starttls ? ["--starttls-smtp"] : []), target],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    let out = ""
    child.stdout.on("data", (c) => {
      out += c.toString()
    })
    child.stderr.on("data", (c) => {
      out += c.toString()
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      if (!out.includes("<document"))
        return reject(new Error(`sslscan ${target} exited ${code}:\n${out.slice(-2_000)}`))
      resolve(
        parseSslscanXml(
          target,
          out.slice(out.indexOf("<?xml") >= 0 ? out.indexOf("<?xml") : out.indexOf("<document")),
        ),
      )
    })
  })

/** Names no scan of ours may accept: broken, export-grade, unauthenticated or without secrecy of the key exchange. */
export const WEAK_CIPHER = /NULL|EXP|RC4|RC2|DES|MD5|ADH|AECDH|anon|PSK|SRP|IDEA|SEED/i
