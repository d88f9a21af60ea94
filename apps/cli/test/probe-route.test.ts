/**
 * `mailconnect probe <domain> --dir …` for a partner with its own route servers says whether the
 * domain's MX still points at them (a partner that changed provider), from a lab DNS server.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type Lab, startLab } from "@mailconnect/partner-lab"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mailconnect, ROOT, tempDir } from "./policy-cli"

let lab: Lab
let dir: string

beforeAll(async () => {
  lab = await startLab({ scenarios: ["good"] })
  dir = join(tempDir("probe-route"), "policies")
  cpSync(join(ROOT, "policies"), dir, { recursive: true })
  // The bank's route server is the lab's good server; its MX has moved elsewhere.
  const bank = join(dir, "partners/bank.yaml")
  writeFileSync(
    bank,
    readFileSync(bank, "utf8").replace(
      "smtp-in.bank.example:25",
      `smtp-in.bank.example:${lab.scenario("good").port}`,
    ),
  )
  lab.dns.set("smtp-in.bank.example", [{ type: "A", address: "127.0.0.1" }])
  lab.dns.set("bank.example", [{ type: "MX", preference: 10, exchange: "mx.other-provider.example" }])
}, 60_000)
afterAll(() => lab?.stop())

describe("mailconnect probe: the route check", () => {
  it("says the partner's MX no longer points at its route", async () => {
    const run = await mailconnect(["probe", "bank.example", "--dir", dir], {
      RELAY_DNS_SERVERS: lab.dns.server,
    })
    // The lab server is not the bank's (other CA and pins): the probe fails, and says why the route may be stale.
    expect(run.stdout).toContain(
      "route          bank.example's MX now points to mx.other-provider.example; our route still targets smtp-in.bank.example — has the partner changed provider?",
    )
    const json = await mailconnect(["probe", "bank.example", "--dir", dir, "--json"], {
      RELAY_DNS_SERVERS: lab.dns.server,
    })
    expect(JSON.parse(json.stdout).route).toMatchObject({
      domain: "bank.example",
      mismatch: true,
      route: ["smtp-in.bank.example"],
    })
  })
})
