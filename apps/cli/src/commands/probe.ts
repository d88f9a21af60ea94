/**
 * `mailconnect probe <domain|host:port>`: connects to every server the policy would deliver to
 * (EHLO, STARTTLS, verification, QUIT — no message), prints the evidence, the verdict (`ok` or the
 * failure code) and the pins it would suggest. Exit 0 only when every server passes. The policy
 * comes from `--dir` (the policy directory, compiled) or from flags. MX look-ups use
 * RELAY_DNS_SERVERS; MX hosts are contacted on RELAY_MX_PORT (default 25).
 *
 * Like delivery, the probe lets DANE and MTA-STS authenticate hops the policy leaves opportunistic
 * (bound as the relay binds them, `../layers/tls-standards.ts`), and prints for each server who
 * authenticates it and why, a DANE host's TLSA records and what matched, and the domain's MTA-STS
 * policy with its cache state. Log lines go to stderr: stdout is the report.
 *
 * `probe --changed --base REF [--dir DIR] [--format markdown]` probes every partner a policy change
 * adds or modifies (`probe-changed.ts`), for the pull-request comment.
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { checkRoute, describeRouteMismatch, type RouteCheck } from "@mailconnect/delivery-queue"
import { makeLookup, type PartnerTls, type TlsVersion } from "@mailconnect/policy"
import { compileDirectory, formatDiagnostic, hasErrors } from "@mailconnect/policy-compiler"
import {
  ClientCertificates,
  DnsResolver,
  OutboundConfig,
  OutboundDelivery,
  type ProbeAuthority,
  type ProbeReport,
  type ProbeServerResult,
  type ProbeTarget,
  type StandardAbsence,
  type StsCause,
  type StsDescription,
} from "@mailconnect/smtp-outbound"
import { Clock, Console, Effect, Layer, Logger, Option } from "effect"
import { CliExit } from "../exit"
import { TlsStandardsFromEnv } from "../layers/tls-standards"
import { POLICY_DIR_DEFAULT } from "./policy-options"
import { probeChanged } from "./probe-changed"
import { renderProbeMarkdown } from "./probe-markdown"

const target = Args.text({ name: "domain|host:port" }).pipe(
  Args.withDescription("a recipient domain (route servers or MX) or one server as host:port"),
)
const dir = Options.directory("dir").pipe(
  Options.withDescription("policy directory: probe with the compiled policy for the domain"),
  Options.optional,
)
const mode = Options.choice("mode", ["enforce", "mtls", "opportunistic"]).pipe(
  Options.withDefault("enforce" as const),
)
const names = Options.text("name").pipe(
  Options.withDescription("accepted certificate name (repeatable); default the server host name"),
  Options.repeated,
)
const ca = Options.file("ca").pipe(
  Options.withDescription("partner CA (PEM); default public roots"),
  Options.optional,
)
const pins = Options.text("pin").pipe(
  Options.withDescription("sha256/<base64 SPKI> (repeatable)"),
  Options.repeated,
)
const trust = Options.choice("trust", ["pkix", "pins"]).pipe(Options.withDefault("pkix" as const))
const minVersion = Options.choice("min-version", ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]).pipe(
  Options.withDefault("TLSv1.2" as const),
)
const clientCert = Options.file("client-cert").pipe(Options.optional)
const clientKey = Options.file("client-key").pipe(Options.optional)
const json = Options.boolean("json").pipe(Options.withDescription("print the report as JSON"))
const formatOption = Options.choice("format", ["text", "json", "markdown"]).pipe(
  Options.withDefault("text" as const),
  Options.withDescription("output: text, json (as --json) or markdown (a pull-request comment)"),
)
const changedOption = Options.boolean("changed").pipe(
  Options.withDescription(
    "probe every partner the policy change adds or modifies (against --base); --dir default policies",
  ),
)
const baseOption = Options.text("base").pipe(
  Options.optional,
  Options.withDescription("with --changed: the git revision the change is against (e.g. origin/main)"),
)

const CLIENT_CERT_NAME = "probe-client"

const parseTarget = (text: string): ProbeTarget => {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text)
  return match ? { host: match[1]!, port: Number(match[2]) } : { domain: text }
}

const causeText = (cause: StsCause | undefined): string =>
  cause
    ? `: ${cause._tag}${cause.form ? ` ${cause.form}` : ""}${cause.rule ? ` ${cause.rule}` : ""}${cause.detail ? ` (${cause.detail})` : ""}`
    : ""

const mtaStsLine = (sts: StsDescription): string => {
  const redis = sts.cache === "ok" ? "" : "; Redis unavailable: answered without the fleet cache"
  if (sts._tag === "NoPolicy")
    return `no policy: ${sts.reason}${sts.id ? ` (id ${sts.id})` : ""}${causeText(sts.cause)}${sts.retryAt ? `, next fetch after ${sts.retryAt}` : ""}${redis}`
  const cache =
    sts.source === "fetched"
      ? `fetched now${sts.cache === "ok" ? ", cached for the fleet" : ""}`
      : `from the fleet cache (fetched ${sts.fetchedAt})`
  return [
    `policy ${sts.id} mode ${sts.mode} mx ${sts.patterns.join(", ")}`,
    `${cache}, expires ${sts.expiresAt}`,
    ...(sts.unconfirmed ? [`unconfirmed: ${sts.unconfirmed.reason}${causeText(sts.unconfirmed.cause)}`] : []),
    ...(sts.refresh === "started" ? ["refresh started"] : []),
  ]
    .join("; ")
    .concat(redis)
}

const ABSENCE: Record<StandardAbsence, { dane: string; mtaSts: string }> = {
  "off-in-policy": { dane: "DANE off in the policy", mtaSts: "MTA-STS off in the policy" },
  "not-bound": {
    dane: "DANE not enabled here (RELAY_DANE=off or no RELAY_DNS_SERVERS)",
    mtaSts: "MTA-STS not enabled here (RELAY_MTA_STS=off)",
  },
  "none-found": { dane: "no validated TLSA records", mtaSts: "no MTA-STS policy in force" },
}

const sourceLine = (authority: ProbeAuthority, partner: string | undefined): string => {
  const who = authority.source === "partner" && partner ? `partner (${partner})` : authority.source
  const reason = authority.reason
  switch (reason._tag) {
    case "PolicyEnforces":
      return `${who}: the policy enforces (${reason.mode}); DANE and MTA-STS not consulted`
    case "NamedServers":
      return `${who}: the servers are named, not looked up; DANE and MTA-STS not consulted`
    case "AddressLiteral":
      return `${who}: an address literal; DANE and MTA-STS not consulted`
    case "TlsaValidated":
      return `${who}: validated TLSA records at ${reason.owner}`
    case "MtaStsPolicy":
      return `${who}: MTA-STS policy ${reason.id} (${reason.mode}${reason.mode === "testing" ? ": verified and reported, not enforced" : ""})`
    case "NoStandard":
      return `${who}: ${ABSENCE[reason.dane].dane}; ${ABSENCE[reason.mtaSts].mtaSts}`
  }
}

const DANE_USAGE: Record<number, string> = { 2: "DANE-TA", 3: "DANE-EE" }

const standardsLines = (server: ProbeServerResult, partner: string | undefined): Array<string> => {
  if (!server.authority) return []
  const lines = [`  source       ${sourceLine(server.authority, partner)}`]
  for (const r of server.authority.tlsa ?? [])
    lines.push(
      `  tlsa         ${r.usage} ${r.selector} ${r.matchingType} ${r.data}${r.usable ? "" : "  (not usable)"}`,
    )
  const dane = server.evidence?.tls?.verification?.dane
  if (dane) {
    const { match, problem } = dane
    lines.push(
      match
        ? `  dane         matched ${match.usage} ${match.selector} ${match.matchingType} (${DANE_USAGE[match.usage]}) at depth ${match.depth}${match.name ? `, name ${match.name}` : ""}`
        : `  dane         ${problem ?? "no usable TLSA record: encrypted, not authenticated"} (${dane.usable} usable record(s))`,
    )
  }
  return lines
}

export const render = (report: ProbeResult): string => {
  const lines = [`probe ${report.target}: ${report.ok ? "ok" : "FAILED"}`]
  if (report.route)
    lines.push(
      report.route.mismatch
        ? `route          ${describeRouteMismatch(report.route)} — has the partner changed provider?`
        : `route          MX ${report.route.mx.join(", ") || "none"} (the route's servers are among them, or there is no MX)`,
    )
  if (report.mtaSts) lines.push(`mta-sts        ${mtaStsLine(report.mtaSts)}`)
  for (const server of report.servers) {
    lines.push(`\n${server.server}${server.address ? ` (${server.address})` : ""}  verdict ${server.verdict}`)
    lines.push(...standardsLines(server, report.partner))
    const tls = server.evidence?.tls
    if (tls) {
      lines.push(`  tls          ${tls.protocol ?? "?"} ${tls.cipher}${tls.resumed ? " (resumed)" : ""}`)
      if (tls.peer) {
        lines.push(`  subject      ${tls.peer.subject}`)
        lines.push(`  issuer       ${tls.peer.issuer}`)
        lines.push(`  names        ${tls.peer.subjectAltNames.join(", ")}`)
        lines.push(`  valid        ${tls.peer.notBefore} .. ${tls.peer.notAfter}`)
        lines.push(`  spki pin     ${tls.peer.spkiPin}`)
      }
      if (tls.verification && tls.verification.trust !== "dane") {
        const v = tls.verification
        lines.push(
          `  verification ${v.ok ? "ok" : `failed (${v.failure})`}: chain ${v.chain}, name ${v.matchedName ?? "none"} of ${v.expectedNames.join(", ")}${v.configuredPins.length > 0 ? `, pin ${v.matchedPin ?? "none matched"}` : ""}`,
        )
      }
    }
    if (server.failure) {
      lines.push(`  failure      ${server.failure.code} in ${server.failure.phase}: ${server.failure.detail}`)
      const diagnosis = server.failure.facts.diagnosis as { kind: string; pinToAdd: string } | undefined
      if (diagnosis)
        lines.push(`  diagnosis    ${diagnosis.kind}; pin to add if legitimate: ${diagnosis.pinToAdd}`)
    }
    if (server.suggestedPins.length > 0) lines.push(`  suggested pins ${server.suggestedPins.join(" ")}`)
  }
  return lines.join("\n")
}

const policyFromDirectory = (directory: string, domain: string) =>
  Effect.gen(function* () {
    const compiled = yield* compileDirectory(directory).pipe(
      Effect.mapError((e) => new CliExit({ code: 2, message: `probe: ${directory}: ${e.reason}` })),
    )
    if (hasErrors(compiled.diagnostics) || !compiled.policy || !compiled.index) {
      return yield* new CliExit({
        code: 2,
        message: `probe: the policy in ${directory} does not compile:\n${compiled.diagnostics.map(formatDiagnostic).join("\n")}`,
      })
    }
    return makeLookup(compiled.policy, compiled.index).effective(domain)
  })

/** How to probe one target: the policy to apply, the named servers, client certificates. */
export interface ProbePlan {
  readonly target: ProbeTarget
  readonly tls: PartnerTls
  readonly servers: ReadonlyArray<{ host: string; port: number }> | undefined
  readonly partner: string | undefined
  /** Client certificates from RELAY_CLIENT_CERTS (a policy's) or given on the command line. */
  readonly certificates: "env" | Record<string, { cert: string; key: string }>
}

export type ProbeResult = ProbeReport & { readonly route?: RouteCheck }

/** Probes one target as delivery would; a route check too when the policy names servers. */
export const runProbe = (plan: ProbePlan) => {
  const layer = OutboundDelivery.layer.pipe(
    Layer.provide(
      Layer.mergeAll(
        OutboundConfig.layer({
          ehloName: process.env.RELAY_EHLO_NAME ?? "localhost",
          mxPort: Number(process.env.RELAY_MX_PORT ?? 25),
          timeouts: {
            connectMs: 10_000,
            greetingMs: 30_000,
            commandMs: 30_000,
            tlsMs: 30_000,
            dataMs: 30_000,
          },
        }),
        DnsResolver.layerFromEnv,
        plan.certificates === "env"
          ? ClientCertificates.layerFromEnv
          : ClientCertificates.layerStatic(plan.certificates),
        TlsStandardsFromEnv.pipe(
          Layer.mapError((e) => new CliExit({ code: 2, message: `probe: configuration: ${String(e)}` })),
        ),
      ),
    ),
  )
  // A policy with its own route servers: does the domain's MX still point at them (provider change)?
  const routeOf = (domain: string, hosts: ReadonlyArray<string>) =>
    Effect.flatMap(DnsResolver, (dns) => Effect.tryPromise(() => dns.mx(domain))).pipe(
      Effect.flatMap((mx) =>
        Clock.currentTimeMillis.pipe(
          Effect.map((now) =>
            checkRoute(
              domain,
              mx.map((r) => r.exchange),
              hosts,
              now,
            ),
          ),
        ),
      ),
      Effect.option,
      Effect.map(Option.getOrUndefined),
      Effect.provide(DnsResolver.layerFromEnv),
    )
  const { servers, partner } = plan
  const probeDomain = "domain" in plan.target ? plan.target.domain : undefined
  const probed = Effect.flatMap(OutboundDelivery, (delivery) =>
    delivery.probe({
      target: plan.target,
      tls: plan.tls,
      ...(servers ? { servers } : {}),
      ...(partner === undefined ? {} : { partner }),
    }),
  )
  const withRoute = Effect.all([
    probed,
    probeDomain && servers && servers.length > 0
      ? routeOf(
          probeDomain,
          servers.map((s) => s.host),
        )
      : Effect.succeed(undefined),
  ]).pipe(Effect.map(([probe, route]): ProbeResult => (route ? { ...probe, route } : probe)))
  return withRoute.pipe(
    Effect.provide(layer),
    Effect.scoped,
    // Warnings (a Redis outage, a failed policy fetch) must not mix with the report on stdout.
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger))),
  )
}

/** The probe plan for `domain` under the compiled policy of a directory. */
export const planFromDirectory = (directory: string, target: ProbeTarget) =>
  Effect.map(
    policyFromDirectory(directory, "domain" in target ? target.domain : target.host),
    (effective): ProbePlan => ({
      target,
      tls: effective.tls,
      servers: effective.servers,
      partner: effective.partner?.name,
      certificates: "env",
    }),
  )

export const probeCommand = Command.make(
  "probe",
  {
    target: Args.optional(target),
    dir,
    changed: changedOption,
    base: baseOption,
    mode,
    names,
    ca,
    pins,
    trust,
    minVersion,
    clientCert,
    clientKey,
    json,
    format: formatOption,
  },
  (flags) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const format = flags.json ? "json" : flags.format
      if (flags.changed) {
        if (Option.isSome(flags.target))
          return yield* new CliExit({ code: 2, message: "probe --changed takes no target" })
        if (Option.isNone(flags.base))
          return yield* new CliExit({
            code: 2,
            message: "probe --changed needs --base GITREF (e.g. origin/main)",
          })
        const directory = Option.getOrElse(flags.dir, () => POLICY_DIR_DEFAULT)
        return yield* probeChanged({
          base: flags.base.value,
          dir: directory,
          format,
          probe: (domain) => Effect.flatMap(planFromDirectory(directory, { domain }), runProbe),
          renderText: render,
        })
      }
      if (Option.isNone(flags.target))
        return yield* new CliExit({
          code: 2,
          message: "probe needs a target (domain|host:port) or --changed",
        })
      const probeTarget = parseTarget(flags.target.value)
      let plan: ProbePlan
      if (Option.isSome(flags.dir)) {
        plan = yield* planFromDirectory(flags.dir.value, probeTarget)
      } else {
        const certificates: Record<string, { cert: string; key: string }> = {}
        const caPem = Option.isSome(flags.ca) ? yield* fs.readFileString(flags.ca.value) : undefined
        const tls: PartnerTls = {
          mode: flags.mode,
          minVersion: flags.minVersion as TlsVersion,
          verify: {
            trust: flags.trust,
            names: flags.names,
            pins: flags.pins,
            ...(caPem && Option.isSome(flags.ca)
              ? { ca: { file: flags.ca.value, pem: caPem, sha256: "", notAfter: "" } }
              : {}),
          },
          ...(flags.mode === "mtls" ? { clientCertificate: CLIENT_CERT_NAME } : {}),
        }
        if (Option.isSome(flags.clientCert) && Option.isSome(flags.clientKey)) {
          certificates[CLIENT_CERT_NAME] = {
            cert: yield* fs.readFileString(flags.clientCert.value),
            key: yield* fs.readFileString(flags.clientKey.value),
          }
        }
        plan = { target: probeTarget, tls, servers: undefined, partner: undefined, certificates }
      }
      const report = yield* runProbe(plan)
      yield* Console.log(
        format === "json"
          ? JSON.stringify(report, null, 2)
          : format === "markdown"
            ? renderProbeMarkdown([{ partner: report.partner, report }])
            : render(report),
      )
      if (!report.ok) return yield* new CliExit({ code: 1 })
    }),
).pipe(
  Command.withDescription(
    "Connect to a partner's servers as delivery would (EHLO, STARTTLS, verification, QUIT; no message) and report evidence, verdicts and pins. With --changed --base REF: every partner the change adds or modifies.",
  ),
)
