/** The partner scenarios of the lab: one misbehaviour each, everything else like `good`. */
import type { CertificateAuthority, CertificateOptions, IssuedCertificate } from "@mailconnect/test-pki"
import { opensslStyleSelfSigned, smuggleBehindLeaf, smuggleBesideValidChain } from "./forgery"
import type { MitmMode } from "./mitm-proxy"
import type { LabServerConfig } from "./smtp-lab-server"

export const SCENARIOS = [
  "good",
  "no-starttls",
  "legacy-tls",
  "no-shared-cipher",
  "self-signed",
  "expired",
  "wrong-name",
  "rotated-key",
  "mtls-alert",
  "mtls-reply",
  "closed-port",
  "drop-after-starttls",
  "starttls-stripped",
  "rcpt-4xx",
  "rcpt-5xx",
  "rcpt-mixed",
  "slow",
  "greeting-5xx",
  "ehlo-5xx",
  "pin-smuggled",
  "pin-smuggled-pkix",
  "self-signed-expired",
  "partial-wildcard",
  "cn-only",
] as const

export type ScenarioName = (typeof SCENARIOS)[number]

export interface ScenarioPlan {
  /** Server settings apart from name, certificate and key; undefined: nothing listens. */
  readonly server: Omit<LabServerConfig, "name" | "cert" | "key"> | undefined
  readonly certificate: IssuedCertificate
  /** The certificate this partner presented before (rotated-key: the one the policy still pins). */
  readonly previousCertificate?: IssuedCertificate
  readonly proxy?: MitmMode
}

export interface ScenarioContext {
  /** The partner CA the lab's policies trust (`verify.ca`). */
  readonly root: CertificateAuthority
  readonly issuer: CertificateAuthority
  readonly relayClientCa: string
  readonly hostname: string
  readonly slowGreetingMs: number
  readonly selfSigned: (options: CertificateOptions) => Promise<IssuedCertificate>
}

export const planScenario = async (name: ScenarioName, ctx: ScenarioContext): Promise<ScenarioPlan> => {
  const names = [ctx.hostname]
  const standard = () => ctx.issuer.issueServer({ names })
  switch (name) {
    case "good":
    case "rcpt-mixed":
      return { server: {}, certificate: await standard() }
    case "no-starttls":
      return { server: { hideStartTls: true }, certificate: await standard() }
    case "legacy-tls":
      return {
        server: { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" },
        certificate: await standard(),
      }
    case "no-shared-cipher":
      // Only a cipher Node's client list excludes (!CAMELLIA), and no TLS 1.3 to fall back on.
      return {
        server: { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-CAMELLIA128-SHA256:@SECLEVEL=0" },
        certificate: await standard(),
      }
    case "self-signed":
      return { server: {}, certificate: await ctx.selfSigned({ names }) }
    case "expired":
      return { server: {}, certificate: await ctx.issuer.issueServer({ names, validity: "expired" }) }
    case "wrong-name":
      return { server: {}, certificate: await ctx.issuer.issueServer({ names: ["mail.elsewhere.test"] }) }
    case "rotated-key": {
      const previous = await standard()
      return { server: {}, certificate: await standard(), previousCertificate: previous }
    }
    case "mtls-alert":
      return {
        server: { clientCertificate: { ca: ctx.relayClientCa, refuseWith: "alert" } },
        certificate: await standard(),
      }
    case "mtls-reply":
      return {
        server: { clientCertificate: { ca: ctx.relayClientCa, refuseWith: "reply" } },
        certificate: await standard(),
      }
    case "closed-port":
      return { server: undefined, certificate: await standard() }
    case "drop-after-starttls":
      return { server: {}, certificate: await standard(), proxy: "drop-after-starttls" }
    case "starttls-stripped":
      return { server: {}, certificate: await standard(), proxy: "strip-starttls" }
    case "rcpt-4xx":
      return {
        server: { rcptReply: { code: 451, message: "4.7.1 Greylisted, please try again later" } },
        certificate: await standard(),
      }
    case "rcpt-5xx":
      return {
        server: { rcptReply: { code: 550, message: "5.1.1 Recipient address rejected: unknown user" } },
        certificate: await standard(),
      }
    case "slow":
      return { server: { greetingDelayMs: ctx.slowGreetingMs }, certificate: await standard() }
    case "greeting-5xx":
      return {
        server: { greetingReply: { code: 554, message: "5.7.1 No SMTP service here" } },
        certificate: await standard(),
      }
    case "ehlo-5xx":
      return { server: {}, certificate: await standard(), proxy: "refuse-ehlo" }
    case "pin-smuggled": {
      // previousCertificate: the partner's genuine self-signed certificate, which the policy pins.
      const genuine = await opensslStyleSelfSigned(ctx.hostname)
      return {
        server: {},
        certificate: await smuggleBehindLeaf(ctx.hostname, genuine),
        previousCertificate: genuine,
      }
    }
    case "pin-smuggled-pkix": {
      const genuine = await standard()
      return {
        server: {},
        certificate: await smuggleBesideValidChain(ctx.hostname, ctx.root, genuine),
        previousCertificate: genuine,
      }
    }
    case "self-signed-expired":
      return { server: {}, certificate: await ctx.selfSigned({ names, validity: "expired" }) }
    case "partial-wildcard": {
      const [first, ...rest] = ctx.hostname.split(".")
      const partial = `${first!.slice(0, 3)}*.${rest.join(".")}`
      return { server: {}, certificate: await ctx.issuer.issueServer({ names: [partial] }) }
    }
    case "cn-only":
      return {
        server: {},
        certificate: await ctx.issuer.issueServer({ names: [], commonName: ctx.hostname }),
      }
  }
}
