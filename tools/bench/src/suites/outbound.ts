/**
 * Outbound delivery throughput: 1,000 messages of 4 KB to the partner lab's `good` server under
 * enforce (verified TLS), with and without connection reuse. CPU time per message is the whole
 * process's (relay side and the lab server share it): an upper bound for the relay alone.
 */
import { startLab } from "@mailconnect/partner-lab"
import { ClientCertificates, DnsResolver, OutboundConfig, OutboundDelivery } from "@mailconnect/smtp-outbound"
import { Effect, Layer, ManagedRuntime } from "effect"
import { type BenchSuite, percentile, report } from "../suite"

const MESSAGES = 1_000
const CONCURRENCY = 10
const BODY = Buffer.from(
  `From: bench@mailconnect.test\r\nTo: rcpt@partner.test\r\nSubject: bench\r\n\r\n${"x".repeat(76).concat("\r\n").repeat(52)}`,
).subarray(0, 4096)

const suite: BenchSuite = {
  name: "outbound delivery (enforce, partner lab)",
  run: async () => {
    const lab = await startLab({ scenarios: ["good"] })
    const good = lab.scenario("good")
    try {
      for (const reuse of [true, false]) {
        const runtime = ManagedRuntime.make(
          OutboundDelivery.layer.pipe(
            Layer.provide(
              Layer.mergeAll(
                OutboundConfig.layer({
                  ehloName: "bench.mailconnect.test",
                  maxMessagesPerConnection: reuse ? 1_000 : 1,
                  idleTimeoutMs: 10_000,
                }),
                DnsResolver.layer([lab.dns.server]),
                ClientCertificates.layerStatic({}),
              ),
            ),
          ),
        )
        const policy = {
          domain: "partner.test",
          partner: undefined,
          retry: { schedule: [], every: 3_600_000, warnAfter: 14_400_000, expireAfter: 864_000_000 },
          servers: [{ host: good.name, port: good.port }],
          tls: {
            mode: "enforce" as const,
            minVersion: "TLSv1.2" as const,
            verify: {
              trust: "pkix" as const,
              names: [],
              pins: [good.certificate.pin],
              ca: { file: "lab-root.pem", pem: lab.pki.root.certPem, sha256: "", notAfter: "" },
            },
          },
        }
        const latencies: Array<number> = []
        const one = Effect.flatMap(OutboundDelivery, (delivery) =>
          Effect.gen(function* () {
            const started = performance.now()
            const result = yield* delivery.deliver({
              domain: "partner.test",
              recipients: ["rcpt@partner.test"],
              sender: "bench@customer.test",
              body: BODY,
              policy,
              bundleSerial: 1,
            })
            latencies.push(performance.now() - started)
            if (result.recipients[0]?.status !== "delivered") throw new Error("bench message not delivered")
          }),
        )
        good.recorder.clear()
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
        const label = reuse ? "with reuse" : "without reuse"
        report(`${label}: messages/s (${MESSAGES} x 4 KB, ${CONCURRENCY} parallel)`, MESSAGES / seconds)
        report(`${label}: latency p50`, percentile(latencies, 50), "ms")
        report(`${label}: latency p99`, percentile(latencies, 99), "ms")
        report(`${label}: CPU per message (relay + lab)`, (cpu.user + cpu.system) / 1000 / MESSAGES, "ms")
        report(`${label}: connections opened`, good.received.length)
        report(`${label}: messages received by the lab`, good.recorder.messages().length)
        await runtime.dispose()
      }
    } finally {
      await lab.stop()
    }
  },
}

export default suite
