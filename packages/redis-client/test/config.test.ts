import { ConfigProvider, Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import {
  ioredisOptions,
  MAX_SHARDS,
  makeKeys,
  parseRedisUrl,
  redact,
  redisConnectionConfig,
  shardOf,
  shardTag,
} from "../src"

const parse = (url: string, prefix?: string) => Either.getOrThrow(parseRedisUrl(url, prefix))

describe("parseRedisUrl", () => {
  it("reads a standalone URL with credentials and database", () => {
    const config = parse("redis://app:s3cret@10.0.0.5:6380/2")
    expect(config.topology).toEqual({
      _tag: "Standalone",
      node: { host: "10.0.0.5", port: 6380 },
      db: 2,
      username: "app",
      password: "s3cret",
      tls: false,
    })
    expect(config.prefix).toBe("mc")
  })
  it("reads rediss:// as TLS", () => {
    expect(parse("rediss://redis.internal").topology).toMatchObject({ tls: true, node: { port: 6379 } })
  })
  it("reads a Sentinel URL: sentinels, master name, default port 26379", () => {
    const config = parse("redis-sentinel://:pw@s1:26380,s2/mymaster?db=1")
    expect(config.topology).toEqual({
      _tag: "Sentinel",
      sentinels: [
        { host: "s1", port: 26380 },
        { host: "s2", port: 26379 },
      ],
      masterName: "mymaster",
      db: 1,
      password: "pw",
      tls: false,
    })
    expect(ioredisOptions(config, { purpose: "x" })).toMatchObject({
      name: "mymaster",
      sentinels: [{ host: "s1" }, { host: "s2" }],
    })
  })
  it("reads a Cluster URL", () => {
    expect(parse("redis-cluster://n1:7000,n2:7001,[::1]:7002").topology).toEqual({
      _tag: "Cluster",
      nodes: [
        { host: "n1", port: 7000 },
        { host: "n2", port: 7001 },
        { host: "::1", port: 7002 },
      ],
      tls: false,
    })
  })
  it("refuses what it cannot use, without echoing passwords", () => {
    const cases = [
      "http://x",
      "redis://a:1,b:2",
      "redis-sentinel://s1:26379",
      "redis-cluster://n1:7000/3",
      "redis://h:99999",
      "redis://:hunter2@h/x",
    ]
    for (const url of cases) {
      const result = parseRedisUrl(url)
      expect(Either.isLeft(result), url).toBe(true)
      if (Either.isLeft(result)) expect(result.left.url).not.toContain("hunter2")
    }
    expect(Either.isLeft(parseRedisUrl("redis://h", "bad prefix"))).toBe(true)
  })
  it("keeps BullMQ's option when asked", () => {
    const options = ioredisOptions(parse("redis://h"), { purpose: "bullmq", maxRetriesPerRequest: null })
    expect(options.maxRetriesPerRequest).toBeNull()
    expect(options.connectionName).toBe("mc:bullmq")
  })
  it("redacts passwords", () => {
    expect(redact("redis://user:pw@h:1")).toBe("redis://user:***@h:1")
  })
})

describe("keys", () => {
  it("puts every key under one cluster hash tag", () => {
    const keys = makeKeys("mc")
    expect(keys.tag).toBe("{mc}")
    expect(keys.key("policy", "current")).toBe("{mc}:policy:current")
  })
})

describe("queue shards", () => {
  const read = (env: Record<string, string>) =>
    Effect.runPromise(
      Effect.either(
        Effect.withConfigProvider(
          redisConnectionConfig,
          ConfigProvider.fromMap(new Map(Object.entries(env))),
        ),
      ),
    )

  it("keeps shard 0 on the fleet's own tag and numbers the others", () => {
    expect(shardTag("mc", 0)).toBe("{mc}")
    expect(shardTag("mc", 3)).toBe("{mc:3}")
  })

  it("derives a message's shard from its id, stably and spread over every shard", () => {
    expect(shardOf("mx67vgn5-7cdb35e4a1d1", 1)).toBe(0)
    expect(shardOf("mx67vgn5-7cdb35e4a1d1", 6)).toBe(shardOf("mx67vgn5-7cdb35e4a1d1", 6))
    const counts = [0, 0, 0, 0, 0, 0]
    for (let i = 0; i < 6_000; i++) counts[shardOf(`mx${i.toString(36)}-${(i * 7919).toString(16)}`, 6)]!++
    for (const n of counts) expect(n).toBeGreaterThan(800)
  })

  it("reads REDIS_SHARDS, absent when unset, and refuses what is not a count", async () => {
    const unset = await read({})
    expect(Either.isRight(unset) && unset.right.shards).toBeUndefined()
    const six = await read({ REDIS_SHARDS: "6" })
    expect(Either.isRight(six) && six.right.shards).toBe(6)
    for (const bad of ["0", "-1", "2.5", "many", String(MAX_SHARDS + 1)]) {
      const refused = await read({ REDIS_SHARDS: bad })
      expect(Either.isLeft(refused) && String(refused.left)).toContain("REDIS_SHARDS must be a whole number")
    }
  })
})
