/**
 * Probe reports → markdown for a pull-request comment: one line saying whether every server
 * passed, then one table row per server (partner, target, server, verdict, TLS, certificate) and
 * the failure detail of those that did not.
 */
import type { ProbeReport } from "@mailconnect/smtp-outbound"

export interface ProbedPartner {
  readonly partner: string | undefined
  readonly report: ProbeReport
}

const code = (text: string): string => `\`${text.replace(/`/g, "'").replace(/\|/g, "\\|")}\``

export const renderProbeMarkdown = (
  probed: ReadonlyArray<ProbedPartner>,
  title = "Probe of the changed partners",
): string => {
  const servers = probed.flatMap(({ partner, report }) =>
    report.servers.map((server) => ({ partner, report, server })),
  )
  const failed = servers.filter((s) => s.server.verdict !== "ok")
  const partners = new Set(probed.map((p) => p.partner ?? p.report.target)).size
  const headline =
    servers.length === 0
      ? probed.length === 0
        ? "No partner added or changed: nothing to probe."
        : "No server found to probe."
      : failed.length === 0
        ? `All ${servers.length} server${servers.length === 1 ? "" : "s"} of ${partners} partner${partners === 1 ? "" : "s"} passed.`
        : `${failed.length} of ${servers.length} server${servers.length === 1 ? "" : "s"} FAILED.`
  const lines = [`### ${title}`, "", `**${headline}**`]
  if (servers.length > 0) {
    lines.push("", "| Partner | Target | Server | Verdict | TLS | Certificate |", "|---|---|---|---|---|---|")
    for (const { partner, report, server } of servers) {
      const tls = server.evidence?.tls
      const peer = tls?.peer
      lines.push(
        `| ${code(partner ?? "-")} | ${code(report.target)} | ${code(`${server.server}${server.address ? ` (${server.address})` : ""}`)} | ${server.verdict === "ok" ? "ok" : `**${server.verdict}**`} | ${tls ? code(`${tls.protocol ?? "?"} ${tls.cipher}`) : ""} | ${peer ? `${code(peer.subject)}, until ${peer.notAfter}` : ""} |`,
      )
    }
  }
  for (const { partner, report, server } of failed)
    if (server.failure)
      lines.push(
        "",
        `- ${code(partner ?? report.target)} ${code(server.server)}: ${server.failure.code} in ${server.failure.phase}: ${server.failure.detail}`,
      )
  return `${lines.join("\n")}\n`
}
