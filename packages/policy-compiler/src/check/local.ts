/** Rules about our own domains: each listed once, each with a valid internal next hop. */
import type { Diagnostic } from "../diagnostic"
import { parseAddress } from "../source/address"
import { diagnosticAt } from "../source/validate"
import type { LocalDomainsSource } from "./sources"

export const checkLocalDomains = (sources: ReadonlyArray<LocalDomainsSource>): Array<Diagnostic> => {
  const out: Array<Diagnostic> = []
  const seen = new Map<string, string>()
  for (const { doc, file } of sources)
    doc.domains.forEach((entry, i) => {
      const domain = entry.domain
      const first = seen.get(domain)
      if (first)
        out.push(
          diagnosticAt(
            file,
            ["domains", i, "domain"],
            "LOCAL-DOMAIN-DUPLICATE",
            `local domain ${domain} is already listed in ${first}`,
            "list each local domain once",
          ),
        )
      else seen.set(domain, file.path)
      const parsed = parseAddress(entry.deliverTo)
      if ("problem" in parsed)
        out.push(
          diagnosticAt(
            file,
            ["domains", i, "deliverTo"],
            "ROUTE-SERVER-INVALID",
            `deliverTo "${entry.deliverTo}" has an invalid ${parsed.problem === "port" ? "port" : "host"}`,
            "write host[:port] of the mailbox servers, e.g. mailbox.customer.example:25",
          ),
        )
    })
  return out
}
