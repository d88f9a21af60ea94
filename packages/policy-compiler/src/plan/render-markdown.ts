/**
 * Plan → GitHub-flavoured markdown for a pull-request comment: a one-line verdict first (what a
 * reviewer reads in the notification), then the summary, security flags in a warning block and
 * one table per changed resource.
 */
import { isEmptyPlan, type Plan, summaryLine, verdictLine } from "./plan"
import { ACTION_SYMBOL, arrayDelta, RESOURCE_LABEL, showLeaf } from "./render-text"
import type { Leaf } from "./view"

const code = (text: string): string => `\`${text.replace(/`/g, "'").replace(/\|/g, "\\|")}\``
const cell = (value: Leaf | undefined): string => (value === undefined ? "" : code(showLeaf(value)))

export const renderPlanMarkdown = (plan: Plan, title = "mailconnect policy plan"): string => {
  const lines = [`**Verdict: ${verdictLine(plan)}.**`, "", `### ${title}`, ""]
  if (isEmptyPlan(plan)) return `${[...lines, `**${summaryLine(plan)}**`].join("\n")}\n`
  lines.push(`**${summaryLine(plan)}**`, "")
  if (plan.security.length > 0) {
    lines.push("> [!WARNING]", "> **Security-relevant changes**", ">")
    for (const flag of plan.security)
      lines.push(`> - ${code(flag.code)} ${RESOURCE_LABEL[flag.kind]} ${code(flag.name)}: ${flag.message}`)
    lines.push("")
  }
  for (const change of plan.changes) {
    lines.push(
      `#### ${ACTION_SYMBOL[change.action]} ${RESOURCE_LABEL[change.kind]} ${code(change.name)} (${change.action})`,
      "",
    )
    if (change.action === "delete") continue
    lines.push("| Field | Before | After |", "|---|---|---|")
    for (const field of change.fields) {
      const delta = arrayDelta(field)
      if (delta)
        lines.push(
          `| ${code(field.path)} | ${delta.removed.map((v) => `− ${code(showLeaf(v))}`).join("<br>")} | ${delta.added
            .map((v) => `+ ${code(showLeaf(v))}`)
            .join("<br>")} |`,
        )
      else lines.push(`| ${code(field.path)} | ${cell(field.before)} | ${cell(field.after)} |`)
    }
    lines.push("")
  }
  return `${lines.join("\n").trimEnd()}\n`
}
