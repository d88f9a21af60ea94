/**
 * Key naming. Every key a mailconnect process writes is `{prefix}:part:part…`: the braces are a
 * Redis Cluster hash tag, so all keys land in one slot and multi-key commands, MULTI and Lua
 * scripts work unchanged on Cluster.
 *
 * The delivery queue and the spool may be sharded over several tags (`REDIS_SHARDS`), so that a
 * Cluster spreads them over its masters: shard 0 keeps `{prefix}` (a fleet from before sharding
 * keeps its mail there), shard i is `{prefix:i}`. A message's shard is derived from its id, and
 * every multi-key command stays within one shard.
 */
export interface RedisKeys {
  /** `{mc}`: the hash tag itself, e.g. for a BullMQ `prefix`. */
  readonly tag: string
  /** `key("policy", "current")` → `{mc}:policy:current`. */
  readonly key: (...parts: ReadonlyArray<string>) => string
}

export const makeKeys = (prefix: string): RedisKeys => {
  const tag = `{${prefix}}`
  return { tag, key: (...parts) => [tag, ...parts].join(":") }
}

/** The most shards a fleet may have (a sanity bound: each one is a BullMQ queue per worker). */
export const MAX_SHARDS = 256

/** Shard `shard`'s hash tag: `{mc}` for shard 0, `{mc:3}` for shard 3. */
export const shardTag = (prefix: string, shard: number): string =>
  shard === 0 ? `{${prefix}}` : `{${prefix}:${shard}}`

/** The shard of a message: 32-bit FNV-1a of its id's UTF-8 bytes, modulo the shard count. */
export const shardOf = (id: string, shards: number): number => {
  if (shards <= 1) return 0
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(id, "utf8")) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash % shards
}
