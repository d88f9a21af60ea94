/**
 * The pure compiler: source texts (+ certificate files) → diagnostics and, when there are no
 * errors, the resolved policy set and its lookup index. No file, clock or git access here:
 * everything that varies comes in as input, so the same input always yields the same output.
 */
import type { LookupIndex, PolicySet } from "@mailconnect/policy"
import { checkCertificates } from "./check/certificates"
import { checkConnectors } from "./check/connector"
import { checkDefaults } from "./check/defaults"
import { checkDomains } from "./check/domains"
import { checkGroups } from "./check/groups"
import { checkLocalDomains } from "./check/local"
import { checkPublishedMtaSts } from "./check/mta-sts"
import { checkPartner } from "./check/partner"
import { collectSources } from "./check/sources"
import { checkPublishedTlsRpt } from "./check/tls-rpt"
import { type Diagnostic, hasErrors, promoteWarnings, sortDiagnostics } from "./diagnostic"
import { buildIndex } from "./lookup-index"
import { resolvePolicy } from "./resolve"
import { convertDomainNames } from "./source/domain-names"
import { type ParsedFile, parseSource, type SourceText } from "./source/parse"
import { validateFile } from "./source/validate"

export interface CompileInput {
  /** The YAML files of the policy directory, paths relative to it. */
  readonly files: ReadonlyArray<SourceText>
  /** Certificate files by path relative to the policy directory (`certs/bank-ca.pem`). */
  readonly attachments: ReadonlyMap<string, string>
  /** "Today" for expiry and review checks. */
  readonly now: Date
  /** Treat warnings as errors. */
  readonly strict?: boolean
}

export interface CompileResult {
  readonly diagnostics: ReadonlyArray<Diagnostic>
  /** undefined when there are errors. */
  readonly policy: PolicySet | undefined
  readonly index: LookupIndex | undefined
}

export const compileSources = (input: CompileInput): CompileResult => {
  const diagnostics: Array<Diagnostic> = []
  const parsed: Array<ParsedFile> = []
  for (const file of [...input.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const result = parseSource(file)
    diagnostics.push(...result.diagnostics)
    if (result.parsed) parsed.push(result.parsed)
  }
  const validated = parsed.map(validateFile).map((v) => {
    if (!v.valid) return v
    const converted = convertDomainNames(v.valid)
    return { ...v, valid: converted.valid, diagnostics: [...v.diagnostics, ...converted.diagnostics] }
  })
  for (const v of validated) diagnostics.push(...v.diagnostics)

  const { sources, diagnostics: setDiagnostics } = collectSources(
    validated,
    input.files.map((f) => f.path),
  )
  diagnostics.push(...setDiagnostics)
  const defaults = sources.defaults?.doc
  if (sources.defaults) diagnostics.push(...checkDefaults(sources.defaults))
  for (const partner of sources.partners) diagnostics.push(...checkPartner(partner, defaults, input.now))
  diagnostics.push(...checkDomains(sources.partners, sources.localDomains, sources.declaredPartners))
  diagnostics.push(...checkLocalDomains(sources.localDomains))
  diagnostics.push(...checkPublishedMtaSts(sources.localDomains))
  diagnostics.push(...checkPublishedTlsRpt(sources.localDomains))
  diagnostics.push(
    ...checkGroups(sources.groups, sources.partners, sources.localDomains, {
      defaults,
      declaredPartners: sources.declaredPartners,
      localDomainsComplete: sources.localDomainsComplete,
    }),
  )
  const certificates = checkCertificates(sources.partners, input.attachments, input.now)
  diagnostics.push(...certificates.diagnostics)
  const connectors = checkConnectors(sources.connectors, sources.partners, input.attachments, input.now)
  diagnostics.push(...connectors.diagnostics)

  const final = sortDiagnostics(input.strict ? promoteWarnings(diagnostics) : diagnostics)
  if (hasErrors(final)) return { diagnostics: final, policy: undefined, index: undefined }
  const policy = resolvePolicy(sources, certificates.embedded, connectors.embedded)
  return { diagnostics: final, policy, index: buildIndex(policy) }
}
