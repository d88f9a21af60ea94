/**
 * The two look-ups MTA-STS needs — TXT of `_mta-sts.<domain>` and A/AAAA of the policy host —
 * through a `Resolver` on the configured servers (`ip` or `ip:port`; none: the system's), as
 * smtp-outbound's next hops do for MX. "No such name" and "no data" are empty answers, not errors.
 */
import { Resolver } from "node:dns/promises"
import { Effect } from "effect"
import { MtaStsDnsFailed } from "./errors"

export interface MtaStsDns {
  /** Each TXT record as its character-strings; empty when the name or the type does not exist. */
  readonly txt: (name: string) => Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, MtaStsDnsFailed>
  /** IPv4 first, then IPv6; empty when the name has neither. */
  readonly addresses: (host: string) => Effect.Effect<ReadonlyArray<string>, MtaStsDnsFailed>
}

const NO_DATA = new Set(["ENODATA", "ENOTFOUND", "NXDOMAIN"])

const query = <A>(name: string, run: () => Promise<ReadonlyArray<A>>) =>
  Effect.tryPromise({
    try: () =>
      run().catch((error: NodeJS.ErrnoException) => {
        if (error.code && NO_DATA.has(error.code)) return []
        throw error
      }),
    catch: (error) =>
      new MtaStsDnsFailed({
        name,
        code: (error as NodeJS.ErrnoException).code ?? "UNKNOWN",
        detail: error instanceof Error ? error.message : String(error),
      }),
  })

export const makeMtaStsDns = (
  servers: ReadonlyArray<string> | undefined,
  options: { readonly timeoutMs?: number; readonly tries?: number } = {},
): MtaStsDns => {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 2_000, tries: options.tries ?? 2 })
  if (servers && servers.length > 0) resolver.setServers([...servers])
  return {
    txt: (name) => query(name, () => resolver.resolveTxt(name)),
    addresses: (host) =>
      Effect.all([query(host, () => resolver.resolve4(host)), query(host, () => resolver.resolve6(host))], {
        concurrency: 2,
      }).pipe(Effect.map(([v4, v6]) => [...v4, ...v6])),
  }
}
