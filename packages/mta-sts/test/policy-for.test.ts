/**
 * `MtaSts.policyFor` against a real lab: DNS on loopback, an HTTPS policy host with test-pki
 * certificates, and a real redis-server, time from the TestClock. Each scenario publishes its own
 * domain (the happy path: enforce, two MX patterns, one day) with one thing changed, and runs on
 * its own key prefix, deleted afterwards.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { afterAll, beforeAll } from "vitest"
import { MtaStsFetchFailed, MtaStsPolicyInvalid, mxMatches, type Policy, type PolicyAnswer } from "../src"
import {
  cleanUpPrefix,
  deadPort,
  expectedPolicy,
  newPrefix,
  openRelay,
  type PolicyFields,
  type PolicyLab,
  type Publication,
  startPolicyLab,
  until,
} from "./policy-lab"

const NOW = Date.parse("2026-03-01T00:00:00Z")
const DAY = 86_400_000
const ID = "20260301T000000"

let lab: PolicyLab
beforeAll(async () => {
  lab = await startPolicyLab()
})
afterAll(() => lab?.stop())

/** One scenario: a fresh domain published with `publication`, a fresh prefix, the clock at NOW. */
const scenario = (label: string, publication: Publication = {}) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(NOW)
    const domain = lab.domain(label)
    yield* Effect.promise(() => lab.publish(domain, publication))
    const prefix = newPrefix()
    const redis = yield* cleanUpPrefix(lab, prefix)
    const key = `{${prefix}}:mta-sts:${domain}`
    const stored = redis.get(key).pipe(Effect.orDie, Effect.map(Option.map((v) => JSON.parse(v) as unknown)))
    return { domain, prefix, redis, key, stored }
  })

const asPolicy = (answer: PolicyAnswer): Policy => {
  if (answer._tag !== "Policy") throw new Error(`expected a policy, got ${JSON.stringify(answer)}`)
  return answer
}

const fetched = (domain: string, at = NOW, overrides: Partial<Policy> = {}): Policy => ({
  _tag: "Policy",
  domain,
  id: ID,
  ...expectedPolicy(domain),
  fetchedAt: at,
  expiresAt: at + DAY,
  source: "fetched",
  cache: "ok",
  refresh: "none",
  ...overrides,
})

describe("MtaSts.policyFor: the policy modes", () => {
  it.scoped("enforce: fetched once, stored in Redis, then answered from the cache", () =>
    Effect.gen(function* () {
      const { domain, prefix, stored } = yield* scenario("enforce")
      const sts = yield* openRelay(lab, prefix)
      const first = yield* sts.policyFor(domain)
      expect(first).toEqual(fetched(domain))
      expect(yield* stored).toEqual(
        Option.some({ id: ID, policy: expectedPolicy(domain), fetchedAt: NOW, expiresAt: NOW + DAY }),
      )
      yield* TestClock.adjust("1 hour")
      const second = yield* sts.policyFor(`${domain.toUpperCase()}.`)
      expect(second).toEqual(fetched(domain, NOW, { source: "cache" }))
      expect(lab.requests(domain)).toBe(1)
      expect(mxMatches(asPolicy(second), `MX1.${domain}.`)).toBe(true)
      expect(mxMatches(asPolicy(second), `a.mx.${domain}`)).toBe(true)
    }),
  )

  it.scoped("testing: the mode comes through as testing", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("testing", { policy: { mode: "testing" } })
      const sts = yield* openRelay(lab, prefix)
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain, NOW, { mode: "testing" }))
    }),
  )

  it.scoped("none: answered as a policy of mode none, and cached like any other", () =>
    Effect.gen(function* () {
      const { domain, prefix, stored } = yield* scenario("none", { policy: { mode: "none", mx: [] } })
      const sts = yield* openRelay(lab, prefix)
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain, NOW, { mode: "none", mx: [] }))
      expect(yield* sts.policyFor(domain)).toEqual(
        fetched(domain, NOW, { mode: "none", mx: [], source: "cache" }),
      )
      expect(yield* stored).toEqual(
        Option.some({
          id: ID,
          policy: { mode: "none", mx: [], maxAge: 86_400 },
          fetchedAt: NOW,
          expiresAt: NOW + DAY,
        }),
      )
      expect(lab.requests(domain)).toBe(1)
    }),
  )

  it.scoped("an MX the policy does not name does not match; a wildcard covers exactly one label", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("mx")
      const sts = yield* openRelay(lab, prefix)
      const policy = asPolicy(yield* sts.policyFor(domain))
      expect(mxMatches(policy, "mx.attacker.test")).toBe(false)
      expect(mxMatches(policy, `mx2.${domain}`)).toBe(false)
      expect(mxMatches(policy, `b.mx.${domain}`)).toBe(true)
      expect(mxMatches(policy, `mx.${domain}`)).toBe(false)
      expect(mxMatches(policy, `a.b.mx.${domain}`)).toBe(false)
    }),
  )
})

describe("MtaSts.policyFor: discovery", () => {
  it.scoped("no TXT record: no policy, and the policy host is never asked", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("no-txt", { id: null })
      const sts = yield* openRelay(lab, prefix)
      expect(yield* sts.policyFor(domain)).toEqual({
        _tag: "NoPolicy",
        domain,
        reason: "no-record",
        cache: "ok",
      })
      expect(lab.requests(domain)).toBe(0)
    }),
  )

  it.scoped("two STSv1 records: no policy (RFC 8461 §3.1)", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("two-txt", { extraTxt: ["v=STSv1; id=other;"] })
      const sts = yield* openRelay(lab, prefix)
      expect(yield* sts.policyFor(domain)).toEqual({
        _tag: "NoPolicy",
        domain,
        reason: "multiple-records",
        cache: "ok",
      })
      expect(lab.requests(domain)).toBe(0)
    }),
  )

  it.scoped("a record split in character-strings, beside an SPF record, is found", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("split-txt", {
        id: null,
        extraTxt: ["v=spf1 -all", ["v=STSv1; ", `id=${ID}`]],
      })
      const sts = yield* openRelay(lab, prefix)
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain))
    }),
  )

  it.scoped("a record longer than 255 bytes, sent as two character-strings, is found", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("long-txt", {
        id: null,
        extraTxt: [`v=STSv1; id=${ID}; note=${"x".repeat(300)};`],
      })
      const sts = yield* openRelay(lab, prefix)
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain))
    }),
  )

  it.scoped("an address literal or junk is not a domain", () =>
    Effect.gen(function* () {
      const sts = yield* openRelay(lab, newPrefix())
      expect(yield* sts.policyFor("[192.0.2.1]")).toEqual({
        _tag: "NoPolicy",
        domain: "[192.0.2.1]",
        reason: "not-a-domain",
        cache: "ok",
      })
    }),
  )
})

/** Each way a fetch can fail, as the policy host serves it, and the error it must give. */
const FAILURES: ReadonlyArray<{
  readonly name: string
  readonly publication: Publication
  readonly error: Partial<MtaStsFetchFailed>
  readonly requests: number
}> = [
  {
    name: "a certificate from an untrusted CA",
    publication: { certificate: "untrusted" },
    error: { form: "tls", code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" },
    requests: 0,
  },
  {
    name: "a certificate for another name",
    publication: { certificate: "wrong-name" },
    error: { form: "tls", code: "ERR_TLS_CERT_ALTNAME_INVALID" },
    requests: 0,
  },
  {
    name: "404",
    publication: { served: { status: 404 } },
    error: { form: "http-status", status: 404 },
    requests: 1,
  },
  {
    name: "text/html",
    publication: { served: { contentType: "text/html" } },
    error: { form: "content-type", status: 200 },
    requests: 1,
  },
  {
    name: "a body over 64 KiB",
    publication: { served: { body: `version: STSv1\r\n${"x-pad: 0123456789abcdef\r\n".repeat(3000)}` } },
    error: { form: "too-large", status: 200 },
    requests: 1,
  },
  {
    name: "a body over 64 KiB in chunks",
    publication: {
      served: { chunked: true, body: `version: STSv1\r\n${"x-pad: 0123456789abcdef\r\n".repeat(3000)}` },
    },
    error: { form: "too-large", status: 200, detail: "body over 65536 bytes" },
    requests: 1,
  },
  {
    name: "a redirect",
    publication: { served: { status: 301, headers: { location: "https://elsewhere.test/policy" } } },
    error: { form: "redirect", status: 301 },
    requests: 1,
  },
  {
    name: "no answer in time",
    publication: { served: { hang: true } },
    error: { form: "timeout", timeout: "total" },
    requests: 1,
  },
]

/** Short enough that the hanging server costs the suite little; real time, not the TestClock. */
const FAST = { totalTimeout: "400 millis" } as const

describe("MtaSts.policyFor: a policy fetch that fails", () => {
  for (const failure of FAILURES) {
    it.scoped(`${failure.name}, nothing cached: no policy, the cause tagged, no retry for 5 minutes`, () =>
      Effect.gen(function* () {
        const { domain, prefix, stored } = yield* scenario("fail", failure.publication)
        const sts = yield* openRelay(lab, prefix, FAST)
        const answer = yield* sts.policyFor(domain)
        expect(answer).toMatchObject({
          _tag: "NoPolicy",
          domain,
          reason: "fetch-failed",
          id: ID,
          cache: "ok",
        })
        const cause = answer._tag === "NoPolicy" ? answer.cause : undefined
        expect(cause).toBeInstanceOf(MtaStsFetchFailed)
        expect(cause).toMatchObject({
          domain,
          url: `https://mta-sts.${domain}:${lab.port}/.well-known/mta-sts.txt`,
        })
        expect(cause).toMatchObject(failure.error)
        expect(lab.requests(domain)).toBe(failure.requests)
        expect(yield* stored).toEqual(Option.none())

        yield* TestClock.adjust("4 minutes")
        expect(yield* sts.policyFor(domain)).toEqual({
          _tag: "NoPolicy",
          domain,
          reason: "fetch-backoff",
          id: ID,
          retryAt: NOW + 5 * 60_000,
          cache: "ok",
        })
        expect(lab.requests(domain)).toBe(failure.requests)
      }),
    )

    it.scoped(`${failure.name} for a new id: the cached policy stays in use, and stays in Redis`, () =>
      Effect.gen(function* () {
        const { domain, prefix, stored } = yield* scenario("fail-cached")
        const sts = yield* openRelay(lab, prefix, FAST)
        expect(yield* sts.policyFor(domain)).toEqual(fetched(domain))
        const before = yield* stored
        yield* Effect.promise(() =>
          lab.publish(domain, {
            ...failure.publication,
            id: "20260302T000000",
            policy: { mode: "none", mx: [] },
          }),
        )
        yield* TestClock.adjust("1 hour")
        const answer = yield* sts.policyFor(domain)
        expect(answer).toMatchObject({ ...fetched(domain), source: "cache" })
        const unconfirmed = answer._tag === "Policy" ? answer.unconfirmed : undefined
        expect(unconfirmed?.reason).toBe("fetch-failed")
        expect(unconfirmed?.cause).toMatchObject({ _tag: "MtaStsFetchFailed", ...failure.error })
        expect(yield* stored).toEqual(before)
        expect(lab.requests(domain)).toBe(1 + failure.requests)

        yield* TestClock.adjust("1 minute")
        expect(yield* sts.policyFor(domain)).toEqual(
          fetched(domain, NOW, { source: "cache", unconfirmed: { reason: "fetch-backoff" } }),
        )
        expect(lab.requests(domain)).toBe(1 + failure.requests)
      }),
    )
  }

  it.scoped("nothing listening on the policy port: connect, ECONNREFUSED", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("refused")
      const sts = yield* openRelay(lab, prefix, { port: yield* Effect.promise(() => deadPort()) })
      const answer = yield* sts.policyFor(domain)
      expect(answer._tag === "NoPolicy" && answer.cause).toMatchObject({
        _tag: "MtaStsFetchFailed",
        form: "connect",
        code: "ECONNREFUSED",
      })
    }),
  )

  it.scoped("the policy host has no address: dns", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("no-host")
      lab.dns.remove(`mta-sts.${domain}`)
      const sts = yield* openRelay(lab, prefix)
      const answer = yield* sts.policyFor(domain)
      expect(answer._tag === "NoPolicy" && answer.cause).toMatchObject({
        _tag: "MtaStsFetchFailed",
        form: "dns",
      })
      expect(lab.requests(domain)).toBe(0)
    }),
  )

  it.scoped("after the backoff the id is fetched again, and a repaired host yields the policy", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("repaired", { served: { status: 500 } })
      const sts = yield* openRelay(lab, prefix)
      expect(yield* sts.policyFor(domain)).toMatchObject({ _tag: "NoPolicy", reason: "fetch-failed" })
      yield* Effect.promise(() => lab.publish(domain))
      yield* TestClock.adjust("5 minutes")
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain, NOW + 5 * 60_000))
      expect(lab.requests(domain)).toBe(2)
    }),
  )
})

describe("MtaSts.policyFor: malformed policy files", () => {
  const malformed: ReadonlyArray<
    [string, Partial<PolicyFields>, { line: number; rule: string; value: string }]
  > = [
    ["empty version", { version: "" }, { line: 1, rule: "version-unsupported", value: "" }],
    ["bad mode", { mode: "strict" }, { line: 2, rule: "mode-invalid", value: "strict" }],
    ["bad max_age", { max_age: "forever" }, { line: 5, rule: "max-age-invalid", value: "forever" }],
    [
      "bad mx pattern",
      { mx: ["mx1.*.example.net"] },
      { line: 3, rule: "mx-invalid", value: "mx1.*.example.net" },
    ],
  ]
  for (const [name, policy, expected] of malformed) {
    it.scoped(`${name}: no policy, MtaStsPolicyInvalid at line ${expected.line}`, () =>
      Effect.gen(function* () {
        const { domain, prefix, stored } = yield* scenario("malformed", { policy })
        const sts = yield* openRelay(lab, prefix)
        const answer = yield* sts.policyFor(domain)
        expect(answer).toMatchObject({ _tag: "NoPolicy", reason: "fetch-failed", id: ID })
        const cause = answer._tag === "NoPolicy" ? answer.cause : undefined
        expect(cause).toBeInstanceOf(MtaStsPolicyInvalid)
        expect(cause).toMatchObject({ domain, ...expected })
        expect(yield* stored).toEqual(Option.none())
      }),
    )
  }

  it.scoped("a file without a version line at all: version-missing, line 0", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("no-version", {
        served: { body: "mode: enforce\nmx: mx1.example.net\nmax_age: 600\n" },
      })
      const sts = yield* openRelay(lab, prefix)
      const answer = yield* sts.policyFor(domain)
      expect(answer._tag === "NoPolicy" && answer.cause).toMatchObject({
        _tag: "MtaStsPolicyInvalid",
        line: 0,
        rule: "version-missing",
      })
    }),
  )
})

describe("MtaSts.policyFor: the cache over time", () => {
  it.scoped("max_age passes on the TestClock: the policy is fetched again", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("expiry", { policy: { max_age: "3600" } })
      const sts = yield* openRelay(lab, prefix)
      const hour = { maxAge: 3600, expiresAt: NOW + 3_600_000 }
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain, NOW, hour))
      yield* TestClock.adjust("3601 seconds")
      const later = NOW + 3_601_000
      expect(yield* sts.policyFor(domain)).toEqual(
        fetched(domain, later, { maxAge: 3600, expiresAt: later + 3_600_000 }),
      )
      expect(lab.requests(domain)).toBe(2)
    }),
  )

  it.scoped("a new TXT id: the new policy is fetched and replaces the cached one", () =>
    Effect.gen(function* () {
      const { domain, prefix, stored } = yield* scenario("new-id")
      const sts = yield* openRelay(lab, prefix)
      yield* sts.policyFor(domain)
      yield* Effect.promise(() =>
        lab.publish(domain, { id: "20260302T000000", policy: { mode: "testing", mx: [`new.${domain}`] } }),
      )
      yield* TestClock.adjust("2 hours")
      const at = NOW + 2 * 3_600_000
      const renewed = {
        id: "20260302T000000",
        mode: "testing" as const,
        mx: [`new.${domain}`],
        expiresAt: at + DAY,
      }
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain, at, renewed))
      expect(yield* stored).toEqual(
        Option.some({
          id: "20260302T000000",
          policy: { mode: "testing", mx: [`new.${domain}`], maxAge: 86_400 },
          fetchedAt: at,
          expiresAt: at + DAY,
        }),
      )
      expect(lab.requests(domain)).toBe(2)
    }),
  )

  it.scoped("the TXT record disappears: the cached policy is used until it expires, then none", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("txt-gone")
      const sts = yield* openRelay(lab, prefix)
      yield* sts.policyFor(domain)
      yield* Effect.promise(() => lab.publish(domain, { id: null }))
      yield* TestClock.adjust("23 hours")
      expect(yield* sts.policyFor(domain)).toEqual(
        fetched(domain, NOW, { source: "cache", unconfirmed: { reason: "no-record" } }),
      )
      yield* TestClock.adjust("1 hour")
      expect(yield* sts.policyFor(domain)).toEqual({
        _tag: "NoPolicy",
        domain,
        reason: "no-record",
        cache: "ok",
      })
      expect(lab.requests(domain)).toBe(1)
    }),
  )

  it.scoped("DNS unreachable: the cached policy stays in force", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("dns-down")
      const sts = yield* openRelay(lab, prefix)
      yield* sts.policyFor(domain)
      const blind = yield* openRelay(lab, prefix, {
        dnsServers: [`127.0.0.1:${yield* Effect.promise(() => deadPort())}`],
      })
      const answer = yield* blind.policyFor(domain)
      expect(answer).toMatchObject(fetched(domain, NOW, { source: "cache" }))
      expect(answer._tag === "Policy" && answer.unconfirmed).toMatchObject({
        reason: "dns-failed",
        cause: { _tag: "MtaStsDnsFailed", name: `_mta-sts.${domain}` },
      })
    }),
  )

  it.scoped("past half its max_age the cached policy is answered and refreshed in the background", () =>
    Effect.gen(function* () {
      const { domain, prefix, stored } = yield* scenario("refresh")
      const sts = yield* openRelay(lab, prefix)
      yield* sts.policyFor(domain)
      yield* TestClock.adjust("13 hours")
      const at = NOW + 13 * 3_600_000
      expect(yield* sts.policyFor(domain)).toEqual(
        fetched(domain, NOW, { source: "cache", refresh: "started" }),
      )
      yield* until(
        "the refreshed policy in Redis",
        stored.pipe(
          Effect.map((v) => Option.isSome(v) && (v.value as { fetchedAt: number }).fetchedAt === at),
        ),
      )
      expect(lab.requests(domain)).toBe(2)
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain, at, { source: "cache" }))
    }),
  )
})

describe("MtaSts.policyFor: the fleet", () => {
  it.scoped("two relays on one prefix share the cache: the second does not fetch", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("fleet")
      const first = yield* openRelay(lab, prefix)
      const second = yield* openRelay(lab, prefix)
      expect(yield* first.policyFor(domain)).toEqual(fetched(domain))
      expect(yield* second.policyFor(domain)).toEqual(fetched(domain, NOW, { source: "cache" }))
      expect(lab.requests(domain)).toBe(1)
    }),
  )

  it.scoped("concurrent deliveries in one relay share one fetch", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("concurrent")
      const sts = yield* openRelay(lab, prefix)
      const answers = yield* Effect.all(
        Array.from({ length: 5 }, () => sts.policyFor(domain)),
        { concurrency: "unbounded" },
      )
      expect(answers).toEqual(Array.from({ length: 5 }, () => fetched(domain)))
      expect(lab.requests(domain)).toBe(1)
    }),
  )

  it.scoped("Redis down: still answers by fetching, and says the cache was unavailable", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("redis-down")
      const port = yield* Effect.promise(() => deadPort())
      const sts = yield* openRelay(lab, prefix, { redisUrl: `redis://127.0.0.1:${port}` })
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain, NOW, { cache: "unavailable" }))
      expect(yield* sts.policyFor(domain)).toEqual(fetched(domain, NOW, { cache: "unavailable" }))
      expect(lab.requests(domain)).toBe(2)
    }),
  )
})

describe("MtaSts.policyFor: reusing the TXT discovery", () => {
  it.scoped("asks for _mta-sts once a minute per domain, and never keeps a failed lookup", () =>
    Effect.gen(function* () {
      const { domain, prefix } = yield* scenario("discovery-reuse")
      const sts = yield* openRelay(lab, prefix, { discoveryCacheFor: "1 minute" })
      const asked = () => lab.dns.queries.filter((q) => q === `_mta-sts.${domain} TXT`).length
      const before = asked()
      yield* sts.policyFor(domain)
      yield* sts.policyFor(domain)
      expect(asked() - before).toBe(1)
      yield* TestClock.adjust("61 seconds")
      const third = yield* sts.policyFor(domain)
      expect(asked() - before).toBe(2)
      expect(asPolicy(third).id).toBe(ID)
      // A new id is noticed within the minute.
      yield* Effect.promise(() => lab.publish(domain, { id: "20260302T000000" }))
      yield* TestClock.adjust("61 seconds")
      const fourth = yield* sts.policyFor(domain)
      expect(asPolicy(fourth).id).toBe("20260302T000000")
    }),
  )
})
