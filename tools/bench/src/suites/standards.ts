/**
 * What DANE and MTA-STS add per delivery, side by side with the same delivery under no standard:
 * 1,000 messages of 4 KB to one lab SMTP server over reused verified sessions, the recipient
 * domain resolved through a real validating resolver (unbound in front of knot, zones signed at
 * start). First the plain figures: a relay with neither standard (Node's resolver) to
 * `plain.bench`; then with both on, one domain per source: `plain.bench` (insecure zone, no
 * MTA-STS: none), `dane.bench` (signed, DANE-EE TLSA), `sts.bench` (MTA-STS enforce, policy cached
 * in Redis after the first fetch). Prints messages/s, CPU per message (this process: relay side and lab server),
 * validating-resolver lookups per delivery, Redis commands per delivery and policy fetches.
 */
import { execFileSync } from "node:child_process"
import { X509Certificate } from "node:crypto"
import { startMtaStsHost, startSmtpLabServer } from "@mailconnect/partner-lab"
import type { EffectivePolicy } from "@mailconnect/policy"
import { parseRedisUrl, RedisClient, RedisConnectionFactory } from "@mailconnect/redis-client"
import { tlsStandardsLayer } from "@mailconnect/relay"
import {
  ClientCertificates,
  DnsResolver,
  OutboundConfig,
  OutboundDelivery,
  TlsStandards,
} from "@mailconnect/smtp-outbound"
import { startDnssecLab } from "@mailconnect/test-dnssec"
import { createRootCa } from "@mailconnect/test-pki"
import { startRedis } from "@mailconnect/test-redis"
import { tlsaAssociation } from "@mailconnect/x509"
import { Effect, Either, Layer, ManagedRuntime } from "effect"
import { type BenchSuite, report } from "../suite"

const MESSAGES = Number(process.env.BENCH_STANDARDS_MESSAGES ?? 1_000)
const CONCURRENCY = 10
const BODY = Buffer.from(`Subject: bench\r\n\r\n${"x".repeat(76).concat("\r\n").repeat(52)}`).subarray(
  0,
  4096,
)
const STS_ID = "20260301T000000"

const redisCalls = (host: string, port: number): number => {
  const info = execFileSync("redis-cli", ["-h", host, "-p", String(port), "INFO", "commandstats"], {
    encoding: "utf8",
  })
  return [...info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
}

const suite: BenchSuite = {
  name: "DANE and MTA-STS cost per delivery (validating resolver, reused sessions)",
  run: async () => {
    const root = await createRootCa({ commonName: "standards bench root" })
    const cert = await root.issueServer({ names: ["mx.plain.bench", "mx.dane.bench", "mx.sts.bench"] })
    const server = await startSmtpLabServer({
      name: "bench",
      cert: cert.chainPem,
      key: cert.keyPem,
      host: "127.0.0.1",
    })
    const sts = await startMtaStsHost()
    const redis = await startRedis()
    const mx = (zone: string) => [
      { name: "@", type: "MX" as const, preference: 10, exchange: `mx.${zone}.` },
      { name: "mx", type: "A" as const, address: "127.0.0.1" },
    ]
    const ee = tlsaAssociation(new X509Certificate(cert.certPem), 1, 1).toString("hex")
    const dns = await startDnssecLab({
      zones: [
        { name: "plain.bench", signing: "unsigned", records: mx("plain.bench") },
        {
          name: "dane.bench",
          signing: "signed",
          records: [
            ...mx("dane.bench"),
            {
              name: `_${server.port}._tcp.mx`,
              type: "TLSA",
              usage: 3,
              selector: 1,
              matchingType: 1,
              data: ee,
            },
          ],
        },
        {
          name: "sts.bench",
          signing: "unsigned",
          records: [
            ...mx("sts.bench"),
            { name: "_mta-sts", type: "TXT", text: `v=STSv1; id=${STS_ID};` },
            { name: "mta-sts", type: "A", address: "127.0.0.1" },
          ],
        },
      ],
    })
    await sts.publish("sts.bench", { id: STS_ID, policy: { mode: "enforce", mx: ["mx.sts.bench"] } })
    try {
      const redisLayer = RedisClient.layerWith().pipe(
        Layer.provide(RedisConnectionFactory.layerFrom(Either.getOrThrow(parseRedisUrl(redis.url, "bench")))),
      )
      let lookups = 0
      const count = (n: number) =>
        Effect.sync(() => {
          lookups += n
        })
      const counted = Layer.effect(
        TlsStandards,
        Effect.map(TlsStandards, (standards) => ({
          ...standards,
          dns: standards.dns && {
            mx: (name: string) => Effect.zipRight(count(1), standards.dns!.mx(name)),
            addresses: (name: string) => Effect.zipRight(count(2), standards.dns!.addresses(name)),
            tlsa: (name: string) => Effect.zipRight(count(1), standards.dns!.tlsa(name)),
          },
        })),
      ).pipe(
        Layer.provide(
          tlsStandardsLayer({
            dane: [dns.resolver.server],
            mtaSts: { dnsServers: [dns.resolver.server], ca: `${sts.ca}\n${root.certPem}`, port: sts.port },
          }).pipe(Layer.provide(redisLayer)),
        ),
      )
      const variants = [
        { name: "relay without DANE/MTA-STS", domain: "plain.bench", standards: TlsStandards.none },
        { name: "none", domain: "plain.bench", standards: counted },
        { name: "dane", domain: "dane.bench", standards: counted },
        { name: "mta-sts", domain: "sts.bench", standards: counted },
      ]
      for (const { name, domain, standards } of variants) {
        const runtime = ManagedRuntime.make(
          OutboundDelivery.layer.pipe(
            Layer.provide(
              Layer.mergeAll(
                OutboundConfig.layer({
                  ehloName: "bench.mailconnect.test",
                  mxPort: server.port,
                  maxMessagesPerConnection: 1_000,
                  idleTimeoutMs: 10_000,
                }),
                DnsResolver.layer([dns.resolver.server]),
                ClientCertificates.layerStatic({}),
                standards,
              ),
            ),
          ),
        )
        const policy: EffectivePolicy = {
          domain,
          partner: undefined,
          retry: { schedule: [], every: 3_600_000, warnAfter: 14_400_000, expireAfter: 864_000_000 },
          servers: undefined,
          tls: {
            mode: "opportunistic",
            minVersion: "TLSv1.2",
            verify: { trust: "pkix", names: [], pins: [] },
          },
        }
        const one = Effect.flatMap(OutboundDelivery, (delivery) =>
          delivery
            .deliver({
              domain,
              recipients: [`rcpt@${domain}`],
              sender: "bench@customer.test",
              body: BODY,
              policy,
              bundleSerial: 1,
            })
            .pipe(
              Effect.tap((result) =>
                result.recipients[0]?.status === "delivered" &&
                result.attempts.at(-1)?.source === expected(domain)
                  ? Effect.void
                  : Effect.die(new Error(`bench message to ${domain} not delivered as ${expected(domain)}`)),
              ),
            ),
        )
        // One warm-up delivery: the session, the resolver's cache and the MTA-STS cache are hot.
        await runtime.runPromise(one)
        lookups = 0
        const fetchesBefore = sts.requests("sts.bench")
        const sessionsBefore = server.recorder.connections.length
        const redisBefore = redisCalls(redis.host, redis.port)
        const cpuBefore = process.cpuUsage()
        const started = performance.now()
        await runtime.runPromise(
          Effect.forEach(Array.from({ length: MESSAGES }), () => one, {
            concurrency: CONCURRENCY,
            discard: true,
          }),
        )
        const seconds = (performance.now() - started) / 1000
        const cpu = process.cpuUsage(cpuBefore)
        const label = `${name} (${domain})`
        report(`${label}: messages/s`, MESSAGES / seconds)
        report(`${label}: CPU per message`, (cpu.user + cpu.system) / 1000 / MESSAGES, "ms")
        report(`${label}: validated lookups per delivery (cached by TTL)`, lookups / MESSAGES)
        report(`${label}: SMTP sessions opened`, server.recorder.connections.length - sessionsBefore)
        report(
          `${label}: Redis commands per delivery`,
          (redisCalls(redis.host, redis.port) - redisBefore) / MESSAGES,
        )
        report(`${label}: MTA-STS policy fetches`, sts.requests("sts.bench") - fetchesBefore)
        await runtime.dispose()
      }
    } finally {
      await server.stop()
      await sts.stop()
      await dns.stop()
      await redis.stop()
    }
  },
}

const expected = (domain: string) =>
  domain === "dane.bench" ? "dane" : domain === "sts.bench" ? "mta-sts" : "none"

export default suite
