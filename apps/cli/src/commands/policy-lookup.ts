/**
 * `mailconnect policy lookup <domain> [--dir DIR|--bundle FILE]`: the effective policy for a
 * recipient domain, answered the way a relay answers it (`makeLookup` over the resolved set).
 * With `--bundle` the bundle's payload is read; its signature is checked only when `--pubkey`
 * is given, and the output says so. The domain may be written in Unicode, full width or
 * A-labels; it is looked up in its A-label form, as the relay does with an envelope domain.
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { canonicalize, parseTrustedKey, verifyBundle } from "@mailconnect/bundle"
import {
  BundlePayload,
  formatDuration,
  type LookupIndex,
  makeLookup,
  type PolicySet,
  type TlsVerify,
  toALabel,
} from "@mailconnect/policy"
import { compileDirectory, hasErrors } from "@mailconnect/policy-compiler"
import { Console, Effect, Option, Schema } from "effect"
import { CliExit } from "../exit"
import { POLICY_DIR_DEFAULT, printDiagnostics } from "./policy-options"

const domain = Args.text({ name: "domain" }).pipe(
  Args.withDescription("recipient domain, in Unicode or A-labels (müller-bank.de, xn--mller-bank-9db.de)"),
)
const dir = Options.directory("dir").pipe(
  Options.optional,
  Options.withDescription(`policy directory (default: ${POLICY_DIR_DEFAULT})`),
)
const bundle = Options.file("bundle", { exists: "yes" }).pipe(
  Options.optional,
  Options.withDescription("read a compiled bundle instead of the policy directory"),
)
const pubkey = Options.file("pubkey", { exists: "yes" }).pipe(
  Options.repeated,
  Options.withDescription("with --bundle: verify it against this public key first"),
)
const format = Options.choice("format", ["text", "json"]).pipe(
  Options.withDefault("text" as const),
  Options.withDescription("text or json"),
)

const fail = (message: string) => new CliExit({ code: 1, message })

const fromBundle = (file: string, pubkeys: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const bytes = yield* fs.readFileString(file).pipe(Effect.mapError(() => fail(`cannot read ${file}`)))
    let raw: unknown
    if (pubkeys.length > 0) {
      const trusted = yield* Effect.forEach(pubkeys, (k) =>
        fs.readFileString(k).pipe(
          Effect.mapError(() => fail(`cannot read ${k}`)),
          Effect.flatMap((pem) => parseTrustedKey(pem, k)),
        ),
      )
      raw = (yield* verifyBundle(bytes, trusted).pipe(Effect.mapError((e) => fail(`${file}: ${e._tag}`))))
        .payload
    } else {
      yield* Console.error(`note: ${file} read without signature check (pass --pubkey to verify)`)
      raw = yield* Effect.try({
        try: () => JSON.parse((JSON.parse(bytes) as { payload: string }).payload) as unknown,
        catch: () => fail(`${file} is not a bundle`),
      })
    }
    const payload = yield* Schema.decodeUnknown(BundlePayload)(raw).pipe(
      Effect.mapError(() => fail(`${file}: the payload is not a policy bundle`)),
    )
    return { policy: payload.policy, index: payload.index }
  }).pipe(Effect.catchTag("SigningKeyInvalid", (e) => Effect.fail(fail(`invalid public key ${e.source}`))))

const fromDirectory = (dir: string) =>
  compileDirectory(dir).pipe(
    Effect.catchTag("PolicyDirectoryUnreadable", (e) => Effect.fail(fail(`${e.dir}: ${e.reason}`))),
    Effect.tap((result) =>
      hasErrors(result.diagnostics) ? printDiagnostics(result, "stderr") : Effect.void,
    ),
    Effect.flatMap((result) =>
      result.policy && result.index
        ? Effect.succeed({ policy: result.policy, index: result.index })
        : Effect.fail(fail(`${dir} has errors; run mailconnect policy check`)),
    ),
  )

/** Which index entry answered: the exact domain or the most specific wildcard. */
const matchedBy = (index: LookupIndex, name: string): string | undefined => {
  if (index.exact[name]) return name
  let dot = name.indexOf(".")
  while (dot !== -1) {
    const suffix = name.slice(dot + 1)
    if (index.wildcard[suffix]) return `*.${suffix}`
    dot = name.indexOf(".", dot + 1)
  }
  return undefined
}

const verifyView = (verify: TlsVerify) => ({
  trust: verify.trust,
  names: verify.names,
  ca: verify.ca ? `${verify.ca.file} (sha256 ${verify.ca.sha256}, notAfter ${verify.ca.notAfter})` : null,
  pins: verify.pins,
})

const describe = (policy: PolicySet, index: LookupIndex, query: string) => {
  const lookup = makeLookup(policy, index)
  const effective = lookup.effective(query)
  const local = lookup.localDomain(query)
  const { tls, retry } = effective
  const inbound = effective.partner?.inbound
  return {
    domain: effective.domain,
    partner: effective.partner?.name ?? null,
    matchedBy: matchedBy(index, effective.domain) ?? null,
    localDomain: local
      ? { deliverTo: `${local.deliverTo.host}:${local.deliverTo.port}`, groups: local.groups }
      : null,
    route: effective.servers ? effective.servers.map((s) => `${s.host}:${s.port}`) : "dns-mx",
    tls: {
      mode: tls.mode,
      minVersion: tls.minVersion,
      ciphers: tls.ciphers ?? null,
      ...verifyView(tls.verify),
      clientCertificate: tls.clientCertificate ?? null,
      reviewDueOn: tls.review?.dueOn ?? null,
    },
    inbound: inbound
      ? {
          requireTls: inbound.requireTls,
          requireClientCertificate: inbound.requireClientCertificate,
          // Bundles compiled before inbound.verify existed apply tls.verify inbound.
          verify: verifyView(inbound.verify ?? tls.verify),
        }
      : null,
    retry: {
      schedule: retry.schedule.map(formatDuration),
      every: formatDuration(retry.every),
      warnAfter: formatDuration(retry.warnAfter),
      expireAfter: formatDuration(retry.expireAfter),
    },
    groups: effective.partner?.groups ?? [],
  }
}

const verifyOf = (tls: ReturnType<typeof describe>["tls"]) => ({
  trust: tls.trust,
  names: tls.names,
  ca: tls.ca,
  pins: tls.pins,
})

const asText = (d: ReturnType<typeof describe>): string => {
  const list = (values: ReadonlyArray<string>) => (values.length === 0 ? "-" : values.join(", "))
  return [
    `domain            ${d.domain}`,
    `partner           ${d.partner ? `${d.partner} (matched ${d.matchedBy})` : "none (fleet defaults)"}`,
    ...(d.localDomain
      ? [`local domain      deliver to ${d.localDomain.deliverTo}, groups ${list(d.localDomain.groups)}`]
      : []),
    `route             ${typeof d.route === "string" ? "DNS MX" : d.route.join(", ")}`,
    `tls.mode          ${d.tls.mode}`,
    `tls.minVersion    ${d.tls.minVersion}`,
    ...(d.tls.ciphers ? [`tls.ciphers       ${d.tls.ciphers}`] : []),
    `tls.verify.trust  ${d.tls.trust}`,
    `tls.verify.names  ${d.tls.names.length === 0 ? "(the server host name)" : d.tls.names.join(", ")}`,
    `tls.verify.ca     ${d.tls.ca ?? "public roots"}`,
    `tls.verify.pins   ${list(d.tls.pins)}`,
    ...(d.tls.clientCertificate ? [`tls.clientCert    ${d.tls.clientCertificate}`] : []),
    ...(d.tls.reviewDueOn ? [`review due on     ${d.tls.reviewDueOn}`] : []),
    ...(d.inbound
      ? [
          `inbound           requireTls ${d.inbound.requireTls}, requireClientCertificate ${d.inbound.requireClientCertificate}`,
          `inbound.verify    ${
            JSON.stringify(d.inbound.verify) === JSON.stringify(verifyOf(d.tls))
              ? "as tls.verify"
              : `trust ${d.inbound.verify.trust}, names ${list(d.inbound.verify.names)}, ca ${d.inbound.verify.ca ?? "public roots"}, pins ${list(d.inbound.verify.pins)}`
          }`,
        ]
      : []),
    `retry             schedule ${d.retry.schedule.join(" ")}, every ${d.retry.every}, warn after ${d.retry.warnAfter}, expire after ${d.retry.expireAfter}`,
    `closed groups     ${list(d.groups)}`,
  ].join("\n")
}

export const lookupCommand = Command.make(
  "lookup",
  { domain, dir, bundle, pubkey, format },
  ({ domain, dir, bundle, pubkey, format }) =>
    Effect.gen(function* () {
      if (Option.isSome(dir) && Option.isSome(bundle))
        return yield* new CliExit({ code: 2, message: "give either --dir or --bundle, not both" })
      const { policy, index } = Option.isSome(bundle)
        ? yield* fromBundle(bundle.value, pubkey)
        : yield* fromDirectory(Option.getOrElse(dir, () => POLICY_DIR_DEFAULT))
      const aLabel = toALabel(domain)
      if (aLabel === undefined)
        return yield* new CliExit({
          code: 2,
          message: `"${domain}" is not a valid domain name (write it in Unicode or A-labels, e.g. müller-bank.de or xn--mller-bank-9db.de)`,
        })
      const description = describe(policy, index, aLabel)
      yield* Console.log(format === "json" ? canonicalize(description) : asText(description))
    }),
).pipe(Command.withDescription("Show the effective delivery policy for a recipient domain."))
