/**
 * The certificate and attestation watch of a relay process: after a delivery to an enforced lab
 * partner, /metrics carries `partner_certificate_expiry_seconds` for its server (what the
 * certificate it presented says) and `partner_review_due_seconds` from the policy's attestation
 * date; the shipped alert rules refer only to metrics a relay exports.
 */
import { X509Certificate } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { SmtpRelay, Stack } from "@mailconnect/test-support"
import { cli, labPartner, policyOf, startStack, submit, waitFor } from "@mailconnect/test-support"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const DAY = 86_400_000
let stack: Stack
let relay: SmtpRelay

beforeAll(async () => {
  stack = await startStack(["good", "expired"])
  // DNS as the partners publish it (the lab's server, which also resolves the scenario hosts):
  // the bank's MX is its route server; lapsed moved to another provider.
  const dns = stack.partners.dns
  const good0 = stack.partners.scenario("good")
  dns.set("bank.example", [{ type: "MX", preference: 10, exchange: good0.name }])
  dns.set("lapsed.example", [{ type: "MX", preference: 10, exchange: "mx.other-provider.example" }])
  const good = stack.partners.scenario("good")
  const bank = labPartner(stack.partners, "bank", "good")
  const attested = {
    ...bank,
    tls: { ...bank.tls, review: { attestedOn: "2026-06-01", every: 365 * DAY, dueOn: "2027-06-01" } },
  }
  const lapsed = labPartner(stack.partners, "lapsed", "expired")
  // The route names the server by its DNS name, as partner files do.
  const named = (p: typeof bank, name: string) => ({
    ...p,
    servers: p.servers!.map((s) => ({ ...s, host: name })),
  })
  await stack.publish(
    policyOf([named(attested, good0.name), named(lapsed, stack.partners.scenario("expired").name)], {
      host: good.host,
      port: good.port,
    }),
    1,
  )
  relay = await stack.startRelay("relay-watch", {
    RELAY_WATCH_INTERVAL: "1",
    RELAY_ROUTE_CHECK: "on",
    RELAY_ROUTE_CHECK_INTERVAL: "1",
    RELAY_DNS_SERVERS: stack.partners.dns.server,
  })
  await waitFor("relay ready", async () => (await relay.ready())?.status === 200)
}, 120_000)

afterAll(async () => {
  await relay?.stop("SIGKILL")
  await stack?.stop()
})

describe("the partner watch on /metrics", () => {
  it("exports the expiry of the certificate the partner presented and the attestation due date", async () => {
    const good = stack.partners.scenario("good")
    await submit(relay, stack.relayCa, ["bob@bank.example"], "watched")
    const key = `partner_certificate_expiry_seconds{partner="bank",server="${good.name}:${good.port}"}`
    const seconds = await waitFor("the expiry gauge", async () => (await relay.metrics()).get(key), 30_000)
    const notAfter = Date.parse(new X509Certificate(good.certificate.certPem).validTo)
    // The gauge is sampled once a second: within a few seconds of the certificate's own date.
    expect(Math.abs(seconds - (notAfter - Date.now()) / 1000)).toBeLessThan(10)
    const review = (await relay.metrics()).get('partner_review_due_seconds{partner="bank"}')
    expect(Math.abs((review ?? 0) - (Date.parse("2027-06-01T00:00:00Z") - Date.now()) / 1000)).toBeLessThan(
      10,
    )
  })

  it("ships alert rules that use only metrics a relay exports", async () => {
    // The rules file's expressions (one `expr:` line each; the file is small and written by hand).
    const text = readFileSync(join(__dirname, "../../deploy/prometheus/mailconnect-alerts.yml"), "utf8")
    const expressions = [...text.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!)
    expect(expressions.length).toBe([...text.matchAll(/^\s+- alert: /gm)].length)
    const exported = new Set([...(await relay.metrics()).keys()].map((k) => k.split("{")[0]))
    const used = expressions.flatMap((e) => e.match(/partner_[a-z_]+/g) ?? [])
    expect(used.length).toBeGreaterThan(0)
    for (const metric of used) expect(exported, metric).toContain(metric)
  })

  it("says when a partner's MX no longer points at its route: gauge, and the failure in the job (its log and NDR text)", async () => {
    const metric = (partner: string) => async () =>
      (await relay.metrics()).get(`partner_route_mismatch{partner="${partner}"}`)
    expect(await waitFor("the lapsed route check", metric("lapsed"), 30_000)).toBe(1)
    expect(await waitFor("the bank route check", metric("bank"), 30_000)).toBe(0)
    const submitted = await submit(relay, stack.relayCa, ["bob@lapsed.example"], "moved")
    const shown = await waitFor("the failed attempt", async () => {
      const run = await cli(stack.lab, ["queue", "show", submitted.queueId!, "--json"])
      const view = JSON.parse(run.stdout) as {
        jobs: Array<{ data: { lastFailure?: { route?: unknown } }; log: Array<string> }>
      }
      return view.jobs[0]?.data.lastFailure ? view.jobs[0] : undefined
    })
    const expiredHost = stack.partners.scenario("expired").name
    expect(shown.data.lastFailure).toMatchObject({
      code: "CERT_EXPIRED",
      route: {
        domain: "lapsed.example",
        mx: ["mx.other-provider.example"],
        route: [expiredHost],
        mismatch: true,
      },
    })
    expect(shown.log.at(-1)).toContain(
      `lapsed.example's MX now points to mx.other-provider.example; our route still targets ${expiredHost}`,
    )
  })
})
