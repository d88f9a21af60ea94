/**
 * Closed user groups: every member is a known partner that uses mtls both ways (we present our
 * client certificate, and require theirs inbound), and every local domain is one of ours.
 */
import type { Diagnostic } from "../diagnostic"
import type { DefaultsDoc } from "../source/schema"
import { diagnosticAt } from "../source/validate"
import { effectiveMode } from "./partner"
import type { GroupSource, LocalDomainsSource, PartnerSource } from "./sources"

export const checkGroups = (
  groups: ReadonlyArray<GroupSource>,
  partners: ReadonlyArray<PartnerSource>,
  localDomains: ReadonlyArray<LocalDomainsSource>,
  context: {
    readonly defaults: DefaultsDoc | undefined
    readonly declaredPartners: ReadonlySet<string>
    readonly localDomainsComplete: boolean
  },
): Array<Diagnostic> => {
  const out: Array<Diagnostic> = []
  const byName = new Map(partners.map((p) => [p.doc.name, p]))
  const ours = new Set(localDomains.flatMap((s) => s.doc.domains.map((d) => d.domain)))
  for (const { doc, file } of groups) {
    doc.members.forEach((member, i) => {
      const partner = byName.get(member)
      if (!partner) {
        // A partner whose own file has errors is reported there; do not repeat it here.
        if (!context.declaredPartners.has(member))
          out.push(
            diagnosticAt(
              file,
              ["members", i],
              "GROUP-MEMBER-UNKNOWN",
              `member "${member}" of closed group "${doc.name}" is not a partner`,
              "add partners/<name>.yaml for it or remove the member",
            ),
          )
        return
      }
      const mode = effectiveMode(partner, context.defaults)
      const inbound = partner.doc.inbound
      if (mode !== "mtls")
        out.push(
          diagnosticAt(
            file,
            ["members", i],
            "GROUP-MEMBER-NOT-MTLS",
            `member "${member}" of closed group "${doc.name}" uses ${mode}, not mtls`,
            `set tls.mode: mtls in ${partner.file.path} or remove the member`,
          ),
        )
      else if (inbound?.requireTls === false || inbound?.requireClientCertificate === false)
        out.push(
          diagnosticAt(
            file,
            ["members", i],
            "GROUP-MEMBER-NOT-MTLS",
            `member "${member}" of closed group "${doc.name}" does not require TLS with a client certificate inbound`,
            `remove the inbound override in ${partner.file.path}: group mail uses mTLS both ways`,
          ),
        )
    })
    if (context.localDomainsComplete)
      doc.localDomains.forEach((domain, i) => {
        if (!ours.has(domain))
          out.push(
            diagnosticAt(
              file,
              ["localDomains", i],
              "GROUP-MEMBER-UNKNOWN",
              `${domain} in closed group "${doc.name}" is not one of our local domains`,
              "list it in local.yaml first, or remove it from the group",
            ),
          )
      })
  }
  return out
}
