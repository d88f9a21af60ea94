/**
 * Redis connection settings, parsed once from `REDIS_URL` (+ `REDIS_PREFIX`, `REDIS_SHARDS`) and
 * shared by every connection a process opens: the command client, pub/sub subscribers, and later
 * BullMQ.
 *
 *   redis://[user:pass@]host:port[/db]            standalone (rediss:// for TLS)
 *   redis-sentinel://[user:pass@]host:port,host:port/mastername[?db=N]   Sentinel (rediss-sentinel:// for TLS)
 *   redis-cluster://[user:pass@]host:port,host:port                      Cluster  (rediss-cluster:// for TLS)
 */
import { Config, ConfigError, Either } from "effect"
import { RedisUrlInvalid } from "./errors"
import { MAX_SHARDS } from "./keys"

export interface HostPort {
  readonly host: string
  readonly port: number
}

interface Common {
  readonly username?: string
  readonly password?: string
  readonly tls: boolean
}

export type RedisTopology =
  | ({ readonly _tag: "Standalone"; readonly node: HostPort; readonly db: number } & Common)
  | ({
      readonly _tag: "Sentinel"
      readonly sentinels: ReadonlyArray<HostPort>
      readonly masterName: string
      readonly db: number
    } & Common)
  | ({ readonly _tag: "Cluster"; readonly nodes: ReadonlyArray<HostPort> } & Common)

export interface RedisConnectionConfig {
  readonly url: string
  readonly topology: RedisTopology
  /** Key prefix without braces; every key is `{prefix}:…` so all of them share one cluster slot. */
  readonly prefix: string
  /**
   * How many hash tags the delivery queue and spool are sharded over (`REDIS_SHARDS`); absent:
   * whatever the fleet's layout in Redis says (see the delivery queue's `QueueLayout`).
   */
  readonly shards?: number
}

const SCHEMES: Record<string, { kind: RedisTopology["_tag"]; tls: boolean }> = {
  "redis:": { kind: "Standalone", tls: false },
  "rediss:": { kind: "Standalone", tls: true },
  "redis-sentinel:": { kind: "Sentinel", tls: false },
  "rediss-sentinel:": { kind: "Sentinel", tls: true },
  "redis-cluster:": { kind: "Cluster", tls: false },
  "rediss-cluster:": { kind: "Cluster", tls: true },
}

const parseHostPort = (text: string, defaultPort: number): HostPort | undefined => {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text)
  if (!match) return undefined
  const host = match[1]!.replace(/^\[|\]$/g, "")
  const port = match[2] === undefined ? defaultPort : Number(match[2])
  return port > 0 && port < 65536 ? { host, port } : undefined
}

const PREFIX = /^[A-Za-z0-9_.-]+$/

export const parseRedisUrl = (
  url: string,
  prefix = "mc",
): Either.Either<RedisConnectionConfig, RedisUrlInvalid> => {
  const fail = (reason: string) => Either.left(new RedisUrlInvalid({ url: redact(url), reason }))
  if (!PREFIX.test(prefix)) return fail(`REDIS_PREFIX ${JSON.stringify(prefix)} must match ${PREFIX}`)
  const schemeEnd = url.indexOf("//")
  const scheme = SCHEMES[url.slice(0, schemeEnd)]
  if (schemeEnd < 0 || !scheme) return fail(`unknown scheme; use one of ${Object.keys(SCHEMES).join(" ")}`)
  let rest = url.slice(schemeEnd + 2)
  let query = ""
  const q = rest.indexOf("?")
  if (q >= 0) {
    query = rest.slice(q + 1)
    rest = rest.slice(0, q)
  }
  const slash = rest.indexOf("/")
  const path = slash >= 0 ? decodeURIComponent(rest.slice(slash + 1)) : ""
  let authority = slash >= 0 ? rest.slice(0, slash) : rest
  const credentials: { username?: string; password?: string } = {}
  const at = authority.lastIndexOf("@")
  if (at >= 0) {
    const [user, pass] = authority.slice(0, at).split(":", 2)
    if (user) credentials.username = decodeURIComponent(user)
    if (pass !== undefined) credentials.password = decodeURIComponent(pass)
    authority = authority.slice(at + 1)
  }
  const hosts = authority.split(",").map((h) => parseHostPort(h, scheme.kind === "Sentinel" ? 26379 : 6379))
  if (hosts.length === 0 || hosts.some((h) => h === undefined)) return fail("bad host:port list")
  const nodes = hosts as Array<HostPort>
  const params = new URLSearchParams(query)
  const dbText = scheme.kind === "Standalone" ? path || "0" : (params.get("db") ?? "0")
  const db = Number(dbText)
  if (!Number.isInteger(db) || db < 0) return fail(`bad database number ${JSON.stringify(dbText)}`)
  const common = { ...credentials, tls: scheme.tls }
  switch (scheme.kind) {
    case "Standalone":
      if (nodes.length !== 1) return fail("a standalone URL names exactly one host")
      return Either.right({ url, prefix, topology: { _tag: "Standalone", node: nodes[0]!, db, ...common } })
    case "Sentinel":
      if (!path) return fail("Sentinel URLs end with /<master name>")
      return Either.right({
        url,
        prefix,
        topology: { _tag: "Sentinel", sentinels: nodes, masterName: path, db, ...common },
      })
    case "Cluster":
      if (path) return fail("Cluster URLs have no path (Cluster has no databases)")
      return Either.right({ url, prefix, topology: { _tag: "Cluster", nodes, ...common } })
  }
}

/** The URL with any password replaced, for logs and error messages. */
export const redact = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@")

const shardsConfig = Config.option(Config.string("REDIS_SHARDS")).pipe(
  Config.mapOrFail((text) => {
    if (text._tag === "None" || text.value.trim() === "") return Either.right(undefined)
    const n = Number(text.value.trim())
    return Number.isInteger(n) && n >= 1 && n <= MAX_SHARDS
      ? Either.right(n)
      : Either.left(
          ConfigError.InvalidData(
            ["REDIS_SHARDS"],
            `REDIS_SHARDS must be a whole number from 1 to ${MAX_SHARDS}, got ${JSON.stringify(text.value)}`,
          ),
        )
  }),
)

/**
 * `REDIS_URL` (default `redis://127.0.0.1:6379`), `REDIS_PREFIX` (default `mc`) and
 * `REDIS_SHARDS` (default: the fleet's recorded layout, 1 for a new fleet).
 */
export const redisConnectionConfig: Config.Config<RedisConnectionConfig> = Config.all({
  url: Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")),
  prefix: Config.string("REDIS_PREFIX").pipe(Config.withDefault("mc")),
  shards: shardsConfig,
}).pipe(
  Config.mapOrFail(({ url, prefix, shards }) =>
    Either.map(
      Either.mapLeft(parseRedisUrl(url, prefix), (e) =>
        ConfigError.InvalidData(["REDIS_URL"], `REDIS_URL ${e.url}: ${e.reason}`),
      ),
      (config) => (shards === undefined ? config : { ...config, shards }),
    ),
  ),
)
