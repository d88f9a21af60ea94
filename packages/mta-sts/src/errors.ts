/**
 * Why a domain's MTA-STS policy could not be discovered or fetched: one tagged class per cause,
 * variation in literal fields (`form`, `rule`), never in the text of `detail`.
 */
import { Data } from "effect"

/** The `_mta-sts.<domain>` TXT look-up failed (not "no record": that is an answer). */
export class MtaStsDnsFailed extends Data.TaggedError("MtaStsDnsFailed")<{
  readonly name: string
  /** The resolver's error code, e.g. `ETIMEOUT`, `ESERVFAIL`, `ECONNREFUSED`. */
  readonly code: string
  readonly detail: string
}> {}

/**
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt` did not yield a policy body (RFC 8461 §3.3):
 *
 * - `dns`: the policy host has no address (or its look-up failed);
 * - `connect`: no TCP connection (refused, unreachable);
 * - `tls`: the handshake failed: untrusted chain, expired, or no DNS-ID for the policy host;
 * - `timeout`: the connect or the total time limit passed (`timeout` says which);
 * - `redirect`: a 3xx answer (redirects are never followed);
 * - `http-status`: any other status than 200;
 * - `content-type`: a media type other than `text/plain`;
 * - `too-large`: the body (or its Content-Length) passed the size limit;
 * - `truncated`: the connection ended before the body did.
 */
export class MtaStsFetchFailed extends Data.TaggedError("MtaStsFetchFailed")<{
  readonly domain: string
  readonly url: string
  readonly form:
    | "dns"
    | "connect"
    | "tls"
    | "timeout"
    | "redirect"
    | "http-status"
    | "content-type"
    | "too-large"
    | "truncated"
  readonly status?: number
  readonly timeout?: "connect" | "total"
  /** Node's error code where there is one (e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`), for logs. */
  readonly code?: string
  readonly detail: string
}> {}

/** Which rule of RFC 8461 §3.2 a policy file breaks. */
export type PolicyRule =
  | "version-missing"
  | "version-unsupported"
  | "mode-missing"
  | "mode-invalid"
  | "max-age-missing"
  | "max-age-invalid"
  | "mx-missing"
  | "mx-invalid"
  | "field-syntax"

/**
 * The policy file is not a valid STSv1 policy. `line` is the 1-based line of the offending field,
 * or 0 when a required field is missing from the whole file.
 */
export class MtaStsPolicyInvalid extends Data.TaggedError("MtaStsPolicyInvalid")<{
  readonly domain: string
  readonly line: number
  readonly rule: PolicyRule
  /** The offending value (truncated to 100 characters), empty for a missing field. */
  readonly value: string
}> {}

/** Why a fetch produced no policy: the transfer or the file. */
export type PolicyFetchError = MtaStsFetchFailed | MtaStsPolicyInvalid

export type MtaStsError = MtaStsDnsFailed | PolicyFetchError
