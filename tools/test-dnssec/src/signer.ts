/**
 * Keys and signatures for the lab, made at run time with ldns (`ldns-keygen`, `ldns-signzone`
 * from Debian's ldnsutils): a KSK and a ZSK per signed zone, ECDSA P-256 (algorithm 13).
 */
import { execFile } from "node:child_process"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { promisify } from "node:util"
import { absolute } from "./zone-file"

const run = promisify(execFile)

export interface ZoneKeys {
  /** Base names (`K<zone>.+013+<tag>`) inside the lab directory. */
  readonly ksk: string
  readonly zsk: string
  /** The KSK's DS record in master-file form, for the parent zone (or the trust anchor). */
  readonly ds: string
}

const tool = async (dir: string, command: string, args: ReadonlyArray<string>): Promise<string> => {
  try {
    const { stdout } = await run(command, [...args], { cwd: dir })
    return stdout.trim()
  } catch (e) {
    const error = e as NodeJS.ErrnoException & { stderr?: string }
    if (error.code === "ENOENT")
      throw new Error(`${command} is missing; install it: apt-get install ldnsutils`)
    throw new Error(`${command} ${args.join(" ")} failed: ${error.stderr ?? error.message}`)
  }
}

export const generateKeys = async (dir: string, zone: string): Promise<ZoneKeys> => {
  const origin = absolute(zone)
  // /dev/urandom: /dev/random may block on a fresh container.
  const ksk = await tool(dir, "ldns-keygen", ["-a", "ECDSAP256SHA256", "-r", "/dev/urandom", "-k", origin])
  const zsk = await tool(dir, "ldns-keygen", ["-a", "ECDSAP256SHA256", "-r", "/dev/urandom", origin])
  const ds = (await readFile(join(dir, `${ksk}.ds`), "utf8")).trim().replace(/\s+/g, " ")
  return { ksk, zsk, ds }
}

export interface Validity {
  readonly inception: Date
  readonly expiration: Date
}

/** Valid from an hour ago (clock skew) for 30 days. */
export const currentValidity = (now = Date.now()): Validity => ({
  inception: new Date(now - 3_600_000),
  expiration: new Date(now + 30 * 86_400_000),
})

/** Signatures that ended a week ago: every RRset of the zone, its DNSKEY RRset too, is bogus. */
export const expiredValidity = (now = Date.now()): Validity => ({
  inception: new Date(now - 30 * 86_400_000),
  expiration: new Date(now - 7 * 86_400_000),
})

const seconds = (date: Date) => String(Math.floor(date.getTime() / 1000))

/** Signs `input` (a file in `dir`) into `output` with NSEC; the DNSKEYs are added from the key files. */
export const signZone = async (
  dir: string,
  zone: string,
  input: string,
  output: string,
  keys: ZoneKeys,
  validity: Validity,
): Promise<void> => {
  await tool(dir, "ldns-signzone", [
    ...["-i", seconds(validity.inception), "-e", seconds(validity.expiration)],
    ...["-o", absolute(zone), "-f", output],
    input,
    keys.ksk,
    keys.zsk,
  ])
}
