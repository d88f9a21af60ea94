import { readdirSync, readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DnssecLab, type LabZone, startDnssecLab } from "../src"
import { probe } from "../src/probe"

const mx = (zone: string): LabZone["records"][number] => ({
  name: "@",
  type: "MX",
  preference: 10,
  exchange: `mx.${zone}`,
})

const zones: ReadonlyArray<LabZone> = [
  { name: "signed.example", signing: "signed", records: [mx("signed.example")] },
  { name: "plain.example", signing: "unsigned", records: [mx("plain.example")] },
  { name: "bogus.example", signing: "bogus", records: [mx("bogus.example")] },
]

/** Live processes whose command line names the lab's directory (their config files are in it). */
const labProcesses = (dir: string): ReadonlyArray<number> =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
        const zombie = stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
        return !zombie && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir)
      } catch {
        return false
      }
    })
    .map(Number)

describe("the DNSSEC lab", () => {
  let lab: DnssecLab
  const ask = (name: string, type: "MX" | "A" | "DNSKEY") =>
    probe(lab.resolver.host, lab.resolver.port, name, type, 2_000)

  beforeAll(async () => {
    const started = Date.now()
    lab = await startDnssecLab({ zones })
    console.info(`DNSSEC lab started in ${Date.now() - started} ms`)
  })
  afterAll(() => lab?.stop())

  it("runs a validating resolver and an authoritative server on loopback", () => {
    expect(lab.resolver.server).toBe(`127.0.0.1:${lab.resolver.port}`)
    expect(lab.authoritative.host).toBe("127.0.0.1")
    expect(lab.trustAnchor).toMatch(/^\. IN DS \d+ 13 2 [0-9a-f]{64}$/)
  })

  it("answers from a signed zone with AD", async () => {
    const answer = await ask("signed.example", "MX")
    expect(answer?.rcode).toBe("NOERROR")
    expect(answer?.authenticated).toBe(true)
    expect(answer?.answers.find((a) => a.type === "MX")?.data).toEqual({
      preference: 10,
      exchange: "mx.signed.example",
    })
  })

  it("proves a name absent from a signed zone (NXDOMAIN with AD)", async () => {
    const answer = await ask("absent.signed.example", "A")
    expect(answer?.rcode).toBe("NXDOMAIN")
    expect(answer?.authenticated).toBe(true)
  })

  it("answers from the unsigned zone without AD, NOERROR: insecure, not bogus", async () => {
    const answer = await ask("plain.example", "MX")
    expect(answer?.rcode).toBe("NOERROR")
    expect(answer?.authenticated).toBe(false)
    expect(answer?.answers.some((a) => a.type === "MX")).toBe(true)
  })

  it("answers SERVFAIL for the bogus zone", async () => {
    expect((await ask("bogus.example", "MX"))?.rcode).toBe("SERVFAIL")
    expect((await ask("bogus.example", "DNSKEY"))?.rcode).toBe("SERVFAIL")
    expect(lab.logs().resolver).toContain("signature expired")
  })

  it("sees a changed zone at once: new records, and a signed zone turned bogus", async () => {
    await lab.setZone({
      name: "signed.example",
      signing: "signed",
      records: [{ name: "@", type: "MX", preference: 20, exchange: "mx2.signed.example" }],
    })
    const answer = await ask("signed.example", "MX")
    expect(answer?.authenticated).toBe(true)
    expect(answer?.answers.find((a) => a.type === "MX")?.data).toEqual({
      preference: 20,
      exchange: "mx2.signed.example",
    })

    await lab.setZone({ name: "signed.example", signing: "bogus", records: [mx("signed.example")] })
    expect((await ask("signed.example", "MX"))?.rcode).toBe("SERVFAIL")
    await lab.setZone({ name: "signed.example", signing: "signed", records: [mx("signed.example")] })
    expect((await ask("signed.example", "MX"))?.authenticated).toBe(true)
  })

  it("keeps serving the zone as it was when a change does not render", async () => {
    await expect(
      lab.setZone({
        name: "plain.example",
        signing: "unsigned",
        records: [{ name: "@", type: "A", address: "not an address" }],
      }),
    ).rejects.toThrow(/invalid address/)
    const answer = await ask("plain.example", "MX")
    expect(answer?.answers.some((a) => a.type === "MX")).toBe(true)
    expect(lab.zones().find((z) => z.name === "plain.example")?.records).toHaveLength(1)
  })

  it("refuses to change a zone it was not started with", async () => {
    await expect(lab.setZone({ name: "other.example", signing: "signed", records: [] })).rejects.toThrow(
      /not a lab zone/,
    )
  })
})

describe("stopping the lab", () => {
  it("leaves no process behind", async () => {
    const lab = await startDnssecLab({ zones: [{ name: "stop.example", signing: "signed", records: [] }] })
    expect(labProcesses(lab.dir).length).toBeGreaterThanOrEqual(2)
    await lab.stop()
    expect(labProcesses(lab.dir)).toEqual([])
    // A second stop is harmless.
    await lab.stop()
  })

  it("cleans up when a start fails", async () => {
    await expect(
      startDnssecLab({
        zones: [
          { name: "bad.example", signing: "signed", records: [{ name: "@", type: "A", address: "x" }] },
        ],
      }),
    ).rejects.toThrow(/invalid address/)
  })
})
