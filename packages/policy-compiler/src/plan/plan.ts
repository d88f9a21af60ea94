/**
 * The policy plan: the effective difference between two resolved policy sets, as data
 * (Terraform's plan model). A closed set of actions, resources in a fixed order (defaults,
 * partners, local domains, groups, connectors; by name), field changes by path, and security-relevant
 * changes flagged for reviewers. Renderers turn it into text or markdown; `--format json`
 * prints it as is.
 */
import { canonicalize } from "@mailconnect/bundle"
import type { Partner, PolicySet } from "@mailconnect/policy"
import { securityFlags } from "./security"
import {
  connectorView,
  defaultsView,
  flatten,
  groupView,
  type Leaf,
  localDomainView,
  partnerView,
} from "./view"

export const PLAN_FORMAT = "mailconnect-plan/1"

export type PlanAction = "create" | "update" | "delete"
export type ResourceKind = "defaults" | "partner" | "localDomain" | "group" | "connector"
export const RESOURCE_ORDER: ReadonlyArray<ResourceKind> = [
  "defaults",
  "partner",
  "localDomain",
  "group",
  "connector",
]

export interface FieldChange {
  readonly path: string
  /** Absent on create or when the field is new. */
  readonly before?: Leaf
  /** Absent on delete or when the field was removed. */
  readonly after?: Leaf
}

export interface ResourceChange {
  readonly kind: ResourceKind
  readonly name: string
  readonly action: PlanAction
  readonly fields: ReadonlyArray<FieldChange>
}

export type SecurityCode =
  | "MODE-DOWNGRADED"
  | "MIN-VERSION-LOWERED"
  | "DANE-DISABLED"
  | "MTA-STS-DISABLED"
  | "PINS-REMOVED"
  | "CA-REMOVED"
  | "CA-REPLACED"
  | "INBOUND-RELAXED"
  | "DOMAIN-MOVED"
  | "DOMAIN-UNPROTECTED"
  | "GROUP-MEMBER-ADDED"
  | "CONNECTOR-ADDED"
  | "CONNECTOR-WIDENED"

export interface SecurityFlag {
  readonly code: SecurityCode
  readonly kind: ResourceKind
  readonly name: string
  readonly message: string
}

export interface Plan {
  readonly format: typeof PLAN_FORMAT
  readonly changes: ReadonlyArray<ResourceChange>
  readonly security: ReadonlyArray<SecurityFlag>
  readonly summary: { readonly create: number; readonly update: number; readonly delete: number }
}

const same = (a: Leaf | undefined, b: Leaf | undefined): boolean => JSON.stringify(a) === JSON.stringify(b)

const diffResource = (
  kind: ResourceKind,
  name: string,
  before: unknown,
  after: unknown,
): ResourceChange | undefined => {
  const old = before === undefined ? new Map<string, Leaf>() : flatten(before)
  const now = after === undefined ? new Map<string, Leaf>() : flatten(after)
  const paths = [...new Set([...old.keys(), ...now.keys()])].sort()
  const fields: Array<FieldChange> = []
  for (const path of paths) {
    const b = old.get(path)
    const a = now.get(path)
    if (same(b, a)) continue
    fields.push({ path, ...(b === undefined ? {} : { before: b }), ...(a === undefined ? {} : { after: a }) })
  }
  if (before !== undefined && after !== undefined && fields.length === 0) return undefined
  const action: PlanAction = before === undefined ? "create" : after === undefined ? "delete" : "update"
  return { kind, name, action, fields }
}

const diffRecords = <T>(
  kind: ResourceKind,
  base: Record<string, T>,
  head: Record<string, T>,
  view: (value: T) => unknown,
): Array<ResourceChange> => {
  const names = [...new Set([...Object.keys(base), ...Object.keys(head)])].sort()
  return names.flatMap((name) => {
    const b = base[name]
    const a = head[name]
    const change = diffResource(
      kind,
      name,
      b === undefined ? undefined : view(b),
      a === undefined ? undefined : view(a),
    )
    return change ? [change] : []
  })
}

export const planDiff = (base: PolicySet, head: PolicySet): Plan => {
  const changes = [
    ...diffRecords("defaults", { defaults: base.defaults }, { defaults: head.defaults }, defaultsView),
    ...diffRecords<Partner>("partner", base.partners, head.partners, partnerView),
    ...diffRecords("localDomain", base.localDomains, head.localDomains, localDomainView),
    ...diffRecords("group", base.groups, head.groups, groupView),
    ...diffRecords("connector", base.connectors ?? {}, head.connectors ?? {}, connectorView),
  ]
  const count = (action: PlanAction) => changes.filter((c) => c.action === action).length
  return {
    format: PLAN_FORMAT,
    changes,
    security: securityFlags(base, head),
    summary: { create: count("create"), update: count("update"), delete: count("delete") },
  }
}

export const isEmptyPlan = (plan: Plan): boolean => plan.changes.length === 0

/** `Plan: 1 to add, 2 to change, 0 to remove; 1 security-relevant change.` */
export const summaryLine = (plan: Plan): string => {
  if (isEmptyPlan(plan)) return "No changes. The effective policy is identical."
  const flags = plan.security.length
  return (
    `Plan: ${plan.summary.create} to add, ${plan.summary.update} to change, ${plan.summary.delete} to remove; ` +
    `${flags} security-relevant change${flags === 1 ? "" : "s"}.`
  )
}

/** The plan as JSON with sorted keys (`--format json`), stable for scripts and golden files. */
export const canonicalizePlan = (plan: Plan): string => canonicalize(plan)

const KIND_NOUN: Record<ResourceKind, readonly [string, string]> = {
  defaults: ["defaults", "defaults"],
  partner: ["partner", "partners"],
  localDomain: ["local domain", "local domains"],
  group: ["closed group", "closed groups"],
  connector: ["connector", "connectors"],
}

const VERDICT_FLAGS = 3
const VERDICT_NAMES = 5

/** One flag in a few words: `bank downgraded enforce → opportunistic`, `bank: pins removed: …`. */
const flagHeadline = (flag: SecurityFlag): string =>
  flag.code === "MODE-DOWNGRADED"
    ? `${flag.name} downgraded ${flag.message.replace(/^tls\.mode /, "")}`
    : `${flag.name}: ${flag.message}`

/**
 * The plan in one line, for the top of a pull-request comment: what changed by kind and name (at
 * most five named per kind), then the security-relevant changes (mode downgrades first, at most
 * three named) —
 * `2 partners changed (bank, fresh new), 1 security-relevant change: bank downgraded enforce → opportunistic`.
 */
export const verdictLine = (plan: Plan): string => {
  if (isEmptyPlan(plan)) return "no effective change"
  const kinds = RESOURCE_ORDER.flatMap((kind) => {
    const changes = plan.changes.filter((c) => c.kind === kind)
    if (changes.length === 0) return []
    if (kind === "defaults") return ["defaults changed"]
    const names = changes.map(
      (c) => `${c.name}${c.action === "create" ? " new" : c.action === "delete" ? " removed" : ""}`,
    )
    const [one, many] = KIND_NOUN[kind]
    const shown =
      names.length > VERDICT_NAMES
        ? `${names.slice(0, VERDICT_NAMES).join(", ")} and ${names.length - VERDICT_NAMES} more`
        : names.join(", ")
    return [`${changes.length} ${changes.length === 1 ? one : many} changed (${shown})`]
  })
  // A mode downgrade is what a reviewer must not miss: first, then the others in plan order.
  const flags = [
    ...plan.security.filter((f) => f.code === "MODE-DOWNGRADED"),
    ...plan.security.filter((f) => f.code !== "MODE-DOWNGRADED"),
  ]
  const security =
    flags.length === 0
      ? "no security-relevant change"
      : `${flags.length} security-relevant change${flags.length === 1 ? "" : "s"}: ${flags
          .slice(0, VERDICT_FLAGS)
          .map(flagHeadline)
          .join("; ")}${flags.length > VERDICT_FLAGS ? `; and ${flags.length - VERDICT_FLAGS} more` : ""}`
  return `${kinds.join(", ")}, ${security}`
}
