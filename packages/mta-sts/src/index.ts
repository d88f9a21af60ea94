/**
 * @mailconnect/mta-sts — RFC 8461 MTA-STS for outbound delivery: discovery, fetch, validation and
 * a fleet-wide Redis cache behind `MtaSts.policyFor`, and the pure `mxMatches`; for our own domains,
 * the HTTPS policy host (`policyHostLayer`) serving what the `PublishedPolicies` port answers.
 *
 * Not built on mailauth's mta-sts module: it needs Node 22, fetches on a fixed port 443 with no
 * CA option and the first address only, keeps time with `Date.now()`, turns a failed fetch into a
 * placeholder `none` policy, and reports failures as message-and-code errors without a line or
 * rule; the grammar is small enough to own (record.ts, policy-file.ts, mx.ts).
 */
export type {
  CacheStatus,
  NoPolicy,
  NoPolicyReason,
  Policy,
  PolicyAnswer,
  Unconfirmed,
} from "./answer"
export type { CachedPolicy, FetchBackoff } from "./cache"
export { type MtaStsDns, makeMtaStsDns } from "./dns"
export * from "./errors"
export { MtaSts, type MtaStsConfig, type MtaStsShape } from "./mta-sts"
export * from "./mx"
export {
  isDomainName,
  MAX_AGE_LIMIT,
  type MtaStsPolicy,
  normalizeMxPattern,
  type PolicyMode,
  parsePolicy,
} from "./policy-file"
export {
  MtaStsPolicyHostFailed,
  type PolicyHostConfig,
  PublishedPolicies,
  type PublishedPoliciesShape,
  policyHostLayer,
} from "./policy-host"
export { discoverFromTxt, parseStsRecord, type RecordDiscovery } from "./record"
