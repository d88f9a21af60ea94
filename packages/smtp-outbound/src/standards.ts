/**
 * The ports through which DNS-based TLS standards reach outbound delivery: a DNSSEC-validating
 * DNS (DANE, RFC 7672) and MTA-STS policies (RFC 8461). The relay and the CLI's probe bind them
 * (`apps/{relay,cli}/src/layers/tls-standards.ts`) to `@mailconnect/dns-secure` and
 * `@mailconnect/mta-sts`, through the converters of `standards-binding.ts`, which take those
 * services by their shape (an adapter never imports another); a process that binds neither
 * (`TlsStandards.none`, the fleet switches `RELAY_DANE=off` / `RELAY_MTA_STS=off`) delivers by
 * partner policy and opportunistic TLS alone.
 */
import { Context, type Effect, Layer } from "effect"

/** An answer and whether the validating resolver vouched for it (the AD bit). */
export interface ValidatedAnswer<R> {
  readonly status: "records" | "nxdomain" | "nodata"
  readonly secure: boolean
  readonly records: ReadonlyArray<R>
}

/** `Bogus`: the validating resolver answered SERVFAIL; `Failed`: no usable answer came. */
export type LookupFailure = { readonly _tag: "Bogus" } | { readonly _tag: "Failed"; readonly detail: string }

export interface TlsaAnswerRecord {
  readonly usage: number
  readonly selector: number
  readonly matchingType: number
  readonly data: Uint8Array
}

export interface ValidatingDns {
  /** MX by preference; a null MX is one record with exchange `.`. */
  readonly mx: (
    name: string,
  ) => Effect.Effect<
    ValidatedAnswer<{ readonly preference: number; readonly exchange: string }>,
    LookupFailure
  >
  /** A then AAAA. */
  readonly addresses: (name: string) => Effect.Effect<ValidatedAnswer<string>, LookupFailure>
  /** TLSA at the owner name, e.g. `_25._tcp.mx.example.com`. */
  readonly tlsa: (name: string) => Effect.Effect<ValidatedAnswer<TlsaAnswerRecord>, LookupFailure>
}

/** A domain's MTA-STS policy in force (mode `none` and no policy are both `undefined`). */
export interface StsPolicy {
  readonly mode: "enforce" | "testing"
  readonly id: string
  readonly patterns: ReadonlyArray<string>
  /** RFC 8461 §4.1 matching of an MX host against `patterns`. */
  readonly allows: (host: string) => boolean
}

/**
 * What the MTA-STS service knew when it answered: the policy with its cache state, or why there
 * is none. Plain data (times as ISO strings), for the probe's report; delivery never reads it.
 */
export type StsDescription =
  | {
      readonly _tag: "Policy"
      readonly id: string
      /** `none` too: a published policy that asks for nothing. */
      readonly mode: "enforce" | "testing" | "none"
      readonly patterns: ReadonlyArray<string>
      /** Seconds. */
      readonly maxAge: number
      readonly fetchedAt: string
      readonly expiresAt: string
      /** `cache`: the fleet's shared cache had it; `fetched`: fetched for this answer. */
      readonly source: "cache" | "fetched"
      /** `unavailable`: Redis did not answer, so the answer was made without the shared cache. */
      readonly cache: "ok" | "unavailable"
      /** Why a cached policy is in force without DNS or the policy host confirming it now. */
      readonly unconfirmed?: { readonly reason: string; readonly cause?: StsCause }
      /** `started`: the cached policy is getting old and a fetch runs in the background. */
      readonly refresh: "none" | "started"
    }
  | {
      readonly _tag: "NoPolicy"
      /** `no-record`, `fetch-failed`, `dns-failed`, `fetch-backoff`, … (the service's reasons). */
      readonly reason: string
      /** The TXT id whose policy could not be had. */
      readonly id?: string
      readonly cause?: StsCause
      /** `fetch-backoff`: no new fetch of this id before then. */
      readonly retryAt?: string
      readonly cache: "ok" | "unavailable"
    }

/** A tagged failure of the MTA-STS service (`MtaStsError`), reduced to its literal fields. */
export interface StsCause {
  readonly _tag: string
  readonly form?: string
  readonly rule?: string
  readonly code?: string
  readonly detail?: string
}

export interface StsLookup {
  readonly policyFor: (domain: string) => Effect.Effect<StsPolicy | undefined>
  /** The same answer as `policyFor` (one look-up) with what the service knew: for the probe. */
  readonly describe?: (
    domain: string,
  ) => Effect.Effect<{ readonly policy: StsPolicy | undefined; readonly description: StsDescription }>
  /**
   * PEM roots that replace the web PKI for MTA-STS hosts' certificates — the same test CA that
   * signs a lab's policy host (`RELAY_MTA_STS_CA`); never set in production.
   */
  readonly roots?: string
}

export interface TlsStandardsShape {
  readonly dns: ValidatingDns | undefined
  readonly mtaSts: StsLookup | undefined
}

export class TlsStandards extends Context.Tag("@mailconnect/smtp-outbound/TlsStandards")<
  TlsStandards,
  TlsStandardsShape
>() {
  static readonly none = Layer.succeed(TlsStandards, { dns: undefined, mtaSts: undefined })
}

/** The owner name of a host's TLSA records for SMTP on `port` (RFC 7672 §2.2.1). */
export const tlsaOwner = (host: string, port: number): string =>
  `_${port}._tcp.${host.toLowerCase().replace(/\.$/, "")}`
