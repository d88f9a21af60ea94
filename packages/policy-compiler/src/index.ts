/**
 * @mailconnect/policy-compiler — policy files → validated, resolved model → signed-bundle
 * payload; plan/diff between two policy sets. The core (`compileSources`, `buildPayload`,
 * `planDiff`, renderers) is pure; `compileDirectory` is the file-reading edge.
 */

export { type InspectedCertificate, inspectPem, isWellFormedPin, spkiPin } from "./certificates"
export { type CompileInput, type CompileResult, compileSources } from "./compile"
export {
  type Diagnostic,
  formatDiagnostic,
  hasErrors,
  type Severity,
  sortDiagnostics,
  summarizeDiagnostics,
} from "./diagnostic"
export { type CompileOptions, compileDirectory } from "./directory"
export { PolicyDirectoryUnreadable } from "./errors"
export { buildIndex } from "./lookup-index"
export { buildPayload, type PayloadInput } from "./payload"
export {
  canonicalizePlan,
  type FieldChange,
  isEmptyPlan,
  PLAN_FORMAT,
  type Plan,
  type PlanAction,
  planDiff,
  type ResourceChange,
  type ResourceKind,
  type SecurityCode,
  type SecurityFlag,
  summaryLine,
  verdictLine,
} from "./plan/plan"
export { renderPlanMarkdown } from "./plan/render-markdown"
export { renderPlanText } from "./plan/render-text"
export { RULE_CODES, RULES, type RuleCode } from "./rules"
export type { SourceText } from "./source/parse"
export { SCHEMA_BY_KIND } from "./source/schema"
