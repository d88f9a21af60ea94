/**
 * Plan → terminal text, Terraform style: `+` create, `~` update, `-` delete, array fields as
 * element additions and removals, security flags after the changes, the summary line last.
 */
import { type FieldChange, isEmptyPlan, type Plan, type PlanAction, summaryLine } from "./plan"
import type { Leaf } from "./view"

export const ACTION_SYMBOL: Record<PlanAction, string> = { create: "+", update: "~", delete: "-" }

export const RESOURCE_LABEL = {
  defaults: "defaults",
  partner: "partner",
  localDomain: "local domain",
  group: "closed group",
  connector: "connector",
} as const

export const showLeaf = (value: Leaf): string => JSON.stringify(value)

/** Elements only in `before` (removed) and only in `after` (added), for array fields. */
export const arrayDelta = (
  change: FieldChange,
): { readonly added: ReadonlyArray<Leaf>; readonly removed: ReadonlyArray<Leaf> } | undefined => {
  if (!Array.isArray(change.before) || !Array.isArray(change.after)) return undefined
  const before = (change.before as ReadonlyArray<Leaf>).map(showLeaf)
  const after = (change.after as ReadonlyArray<Leaf>).map(showLeaf)
  // Order matters for schedules and route servers: a pure reordering is shown as a whole.
  if (before.length === after.length && before.every((b) => after.includes(b))) return undefined
  return {
    added: (change.after as ReadonlyArray<Leaf>).filter((_, i) => !before.includes(after[i]!)),
    removed: (change.before as ReadonlyArray<Leaf>).filter((_, i) => !after.includes(before[i]!)),
  }
}

const fieldLines = (change: FieldChange, action: PlanAction): Array<string> => {
  if (action === "create") return [`      + ${change.path} = ${showLeaf(change.after!)}`]
  if (change.before === undefined) return [`      + ${change.path} = ${showLeaf(change.after!)}`]
  if (change.after === undefined) return [`      - ${change.path} = ${showLeaf(change.before)}`]
  const delta = arrayDelta(change)
  if (delta)
    return [
      `      ~ ${change.path}`,
      ...delta.removed.map((v) => `          - ${showLeaf(v)}`),
      ...delta.added.map((v) => `          + ${showLeaf(v)}`),
    ]
  return [`      ~ ${change.path}: ${showLeaf(change.before)} → ${showLeaf(change.after)}`]
}

export const renderPlanText = (plan: Plan, title = "Policy plan"): string => {
  const lines = [title, ""]
  if (isEmptyPlan(plan)) return `${[...lines, summaryLine(plan)].join("\n")}\n`
  for (const change of plan.changes) {
    lines.push(`  ${ACTION_SYMBOL[change.action]} ${RESOURCE_LABEL[change.kind]} ${change.name}`)
    // A deleted resource is listed by name only: its fields are gone, not changed one by one.
    if (change.action !== "delete")
      for (const field of change.fields) lines.push(...fieldLines(field, change.action))
  }
  if (plan.security.length > 0) {
    lines.push("", "Security-relevant changes:")
    for (const flag of plan.security)
      lines.push(`  ! ${flag.code} ${RESOURCE_LABEL[flag.kind]} ${flag.name}: ${flag.message}`)
  }
  lines.push("", summaryLine(plan))
  return `${lines.join("\n")}\n`
}
