/**
 * Publishing our local domains' MTA-STS policies (RFC 8461) from the active bundle:
 * `publishedPolicyText` answers a Host header with that domain's policy text (the ops HTTP
 * server serves it too, for a TLS terminator in front), and `MtaStsHostLayer` opens the
 * dedicated HTTPS listener when `RELAY_MTA_STS_PORT_HTTPS` is set, with the certificate in
 * `RELAY_MTA_STS_CERT` / `RELAY_MTA_STS_KEY` (its names must cover every `mta-sts.<domain>`).
 * That listener serves only the policy path, so it may face the Internet.
 */
import { FileSystem } from "@effect/platform"
import { PublishedPolicies, policyHostLayer } from "@mailconnect/mta-sts"
import { mtaStsPolicyForHost, renderMtaStsPolicy } from "@mailconnect/policy"
import { ActivePolicy } from "@mailconnect/policy-store"
import { Config, Effect, Layer, Option } from "effect"

/** The policy text for a Host header from the active bundle; undefined when there is none to serve. */
export const publishedPolicyText = (host: string | undefined) =>
  Effect.map(
    Effect.flatMap(ActivePolicy, (policy) => policy.current),
    (active) =>
      Option.match(active, {
        onNone: () => undefined,
        onSome: (bundle) => {
          const published = mtaStsPolicyForHost(bundle.payload.policy.localDomains, host)
          return published && renderMtaStsPolicy(published)
        },
      }),
  )

const mtaStsConfig = Config.all({
  port: Config.option(Config.port("RELAY_MTA_STS_PORT_HTTPS")),
  host: Config.string("RELAY_MTA_STS_HOST").pipe(Config.withDefault("0.0.0.0")),
  cert: Config.string("RELAY_MTA_STS_CERT").pipe(Config.withDefault("")),
  key: Config.string("RELAY_MTA_STS_KEY").pipe(Config.withDefault("")),
})

export const MtaStsHostLayer = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* mtaStsConfig
    if (Option.isNone(config.port)) return Layer.empty
    if (config.cert === "" || config.key === "")
      return yield* Effect.dieMessage(
        "RELAY_MTA_STS_PORT_HTTPS needs RELAY_MTA_STS_CERT and RELAY_MTA_STS_KEY",
      )
    const fs = yield* FileSystem.FileSystem
    const [certPem, keyPem] = yield* Effect.all([
      fs.readFileString(config.cert),
      fs.readFileString(config.key),
    ])
    const policies = yield* ActivePolicy
    const published = Layer.succeed(PublishedPolicies, {
      textFor: (host) => publishedPolicyText(host).pipe(Effect.provideService(ActivePolicy, policies)),
    })
    return policyHostLayer({ host: config.host, port: config.port.value, certPem, keyPem }).pipe(
      Layer.provide(published),
    )
  }),
)
