/**
 * Key naming. Every key a mailconnect process writes is `{prefix}:part:part…`: the braces are a
 * Redis Cluster hash tag, so all keys land in one slot and multi-key commands, MULTI and Lua
 * scripts work unchanged on Cluster.
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
