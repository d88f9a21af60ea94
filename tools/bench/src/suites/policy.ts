/**
 * Policy compiler and lookup: compile time for 1,000 and 10,000 generated partners (the ratio
 * shows whether cost grows linearly), the signed bundle's size, what a relay pays to load one
 * (verify + decode + build the lookup) and the cost of one recipient-domain lookup.
 */
import {
  generateSigningKeyPair,
  parseSigningKey,
  parseTrustedKey,
  signBundle,
  verifyBundle,
} from "@mailconnect/bundle"
import { BundlePayload, makeLookup } from "@mailconnect/policy"
import { buildPayload, compileSources, type SourceText } from "@mailconnect/policy-compiler"
import { DEFAULTS_YAML } from "@mailconnect/test-support"
import { Effect, Schema } from "effect"
import type { BenchSuite } from "../suite"
import { percentile, report } from "../suite"

const NOW = new Date("2026-11-28T12:00:00Z")

/** A realistic mix: 70 % enforce by names, 20 % opportunistic with a route, 10 % mtls with pins. */
const partnerYaml = (i: number): string => {
  const name = `p${i}`
  const kind = i % 10
  const common = `apiVersion: mailconnect/v1
kind: Partner
name: ${name}
agreement:
  reference: AGR-${i}
  signedOn: "2026-01-15"
  confirmedBy: Customer operations, ticket OPS-1
  confirmedOn: "2026-01-15"
  technicalContacts:
    - name: Ops ${i}
      email: ops@${name}.example
domains: [${name}.example, "*.${name}.example"]
`
  if (kind < 2)
    return `${common}route:\n  servers: [mx1.${name}.example, "mx2.${name}.example:2525"]\ntls:\n  mode: opportunistic\n`
  if (kind === 9)
    return `${common}tls:
  mode: mtls
  clientCertificate: relay-client
  verify:
    names: [mx.${name}.example]
    pins: [sha256/WmeWaEuIpAyTM74aYOtVdRvVN7QvZ6Ql7oeicjxUVDA=]
  review:
    attestedOn: "2026-11-01"
    every: 1y
`
  return `${common}tls:\n  mode: enforce\n  verify:\n    names: [mx.${name}.example]\n  review:\n    attestedOn: "2026-11-01"\n    every: 1y\n`
}

const sources = (count: number): Array<SourceText> => [
  { path: "defaults.yaml", text: DEFAULTS_YAML },
  ...Array.from({ length: count }, (_, i) => ({ path: `partners/p${i}.yaml`, text: partnerYaml(i) })),
]

const compileOnce = (files: ReadonlyArray<SourceText>) => {
  const started = performance.now()
  const result = compileSources({ files, attachments: new Map(), now: NOW })
  const ms = performance.now() - started
  if (!result.policy || !result.index)
    throw new Error(`generated policy has errors: ${result.diagnostics.length}`)
  return { ms, policy: result.policy, index: result.index }
}

/** Median of a few runs after one warm-up, so JIT and GC noise do not decide the figure. */
const medianCompile = (count: number, runs: number) => {
  const files = sources(count)
  compileOnce(files)
  const samples: Array<number> = []
  let last = compileOnce(files)
  samples.push(last.ms)
  for (let i = 1; i < runs; i++) {
    last = compileOnce(files)
    samples.push(last.ms)
  }
  return { ms: percentile(samples, 50), policy: last.policy, index: last.index }
}

const suite: BenchSuite = {
  name: "policy: compile, bundle, load, lookup",
  run: async () => {
    const small = medianCompile(1_000, 5)
    const large = medianCompile(10_000, 3)
    report("compile 1,000 partners (median)", small.ms, "ms")
    report("compile 10,000 partners (median)", large.ms, "ms")
    report("ratio 10,000 / 1,000 (10 = linear)", large.ms / small.ms)

    const pair = generateSigningKeyPair()
    const key = await Effect.runPromise(parseSigningKey(pair.privatePem, "bench"))
    const trusted = await Effect.runPromise(parseTrustedKey(pair.publicPem, "bench"))
    const signStarted = performance.now()
    const payload = buildPayload({
      policy: large.policy,
      index: large.index,
      serial: 1,
      createdAt: NOW,
      commit: "bench",
    })
    const bytes = signBundle(payload, [key])
    report("canonicalize + sign, 10,000 partners", performance.now() - signStarted, "ms")
    report("bundle size, 10,000 partners", Buffer.byteLength(bytes) / 1024, "KiB")
    report("bundle size per partner", Math.round(Buffer.byteLength(bytes) / 10_000), "bytes")

    const decode = Schema.decodeUnknownSync(BundlePayload)
    const verifySamples: Array<number> = []
    const decodeSamples: Array<number> = []
    const indexSamples: Array<number> = []
    let lookup = makeLookup(large.policy, large.index)
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      const verified = await Effect.runPromise(verifyBundle(bytes, [trusted]))
      const t1 = performance.now()
      const loaded = decode(verified.payload)
      const t2 = performance.now()
      lookup = makeLookup(loaded.policy, loaded.index)
      const t3 = performance.now()
      verifySamples.push(t1 - t0)
      decodeSamples.push(t2 - t1)
      indexSamples.push(t3 - t2)
    }
    const load = verifySamples.map((v, i) => v + decodeSamples[i]! + indexSamples[i]!)
    report("load: verify (digest + signature + JSON)", percentile(verifySamples, 50), "ms")
    report("load: decode payload (Effect Schema)", percentile(decodeSamples, 50), "ms")
    report("load: build lookup maps", percentile(indexSamples, 50), "ms")
    report("load + verify total, 10,000 partners", percentile(load, 50), "ms")

    // Exact hits, wildcard hits two labels deep, and misses that walk every label.
    const queries = Array.from({ length: 4096 }, (_, i) => {
      const n = (i * 7919) % 10_000
      return [`p${n}.example`, `mx.eu.p${n}.example`, `mail.unknown${n}.example`, `P${n}.EXAMPLE.`][i % 4]!
    })
    const calls = 2_000_000
    let found = 0
    for (let i = 0; i < 200_000; i++) if (lookup.partnerFor(queries[i & 4095]!)) found++
    const started = process.hrtime.bigint()
    for (let i = 0; i < calls; i++) if (lookup.partnerFor(queries[i & 4095]!)) found++
    const ns = Number(process.hrtime.bigint() - started) / calls
    report("lookup partnerFor (mixed exact/wildcard/miss)", ns, "ns/call")
    const effectiveStarted = process.hrtime.bigint()
    for (let i = 0; i < calls; i++) if (lookup.effective(queries[i & 4095]!).partner) found++
    report("lookup effective (mixed)", Number(process.hrtime.bigint() - effectiveStarted) / calls, "ns/call")
    if (found === 0) throw new Error("lookups found nothing")
  },
}

export default suite
