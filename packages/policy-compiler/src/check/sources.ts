/**
 * Gathers the valid documents of a directory by kind and applies the rules about the set as a
 * whole: exactly one Defaults, names equal to file names, no duplicate partner, group or
 * connector names.
 * Later rules see each partner and group once (the first file by path wins; the others are
 * reported here and left out, so one mistake is not reported twice).
 */
import type { Diagnostic } from "../diagnostic"
import { diagnosticAt, type Validated, type ValidDoc } from "../source/validate"

export type DefaultsSource = Extract<ValidDoc, { kind: "Defaults" }>
export type PartnerSource = Extract<ValidDoc, { kind: "Partner" }>
export type LocalDomainsSource = Extract<ValidDoc, { kind: "LocalDomains" }>
export type GroupSource = Extract<ValidDoc, { kind: "ClosedGroup" }>
export type ConnectorSource = Extract<ValidDoc, { kind: "Connector" }>

export interface Sources {
  readonly defaults: DefaultsSource | undefined
  readonly partners: ReadonlyArray<PartnerSource>
  readonly localDomains: ReadonlyArray<LocalDomainsSource>
  readonly groups: ReadonlyArray<GroupSource>
  readonly connectors: ReadonlyArray<ConnectorSource>
  /** Partner names declared anywhere, including files that failed validation. */
  readonly declaredPartners: ReadonlySet<string>
  /** False when a LocalDomains file failed validation: unknown local domains are then not reported. */
  readonly localDomainsComplete: boolean
}

const WHAT = { Partner: "partner", ClosedGroup: "closed group", Connector: "connector" } as const
const DUPLICATE = {
  Partner: "PARTNER-DUPLICATE",
  ClosedGroup: "GROUP-DUPLICATE",
  Connector: "CONNECTOR-DUPLICATE",
} as const

export const fileStem = (path: string): string => path.replace(/^.*\//, "").replace(/\.ya?ml$/, "")

/**
 * `paths` are all YAML files of the directory, parsable or not: a partner file is named after
 * its partner, so `partners/x.yaml` declares "x" even when it cannot be read.
 */
export const collectSources = (
  validated: ReadonlyArray<Validated>,
  paths: ReadonlyArray<string>,
): { readonly sources: Sources; readonly diagnostics: ReadonlyArray<Diagnostic> } => {
  const diagnostics: Array<Diagnostic> = []
  const defaults: Array<DefaultsSource> = []
  const partners = new Map<string, PartnerSource>()
  const localDomains: Array<LocalDomainsSource> = []
  const groups = new Map<string, GroupSource>()
  const connectors = new Map<string, ConnectorSource>()
  const declaredPartners = new Set<string>()
  let localDomainsComplete = true
  let declaredDefaults = 0
  for (const path of paths) if (path.startsWith("partners/")) declaredPartners.add(fileStem(path))

  for (const v of validated) {
    if (v.declared?.kind === "Partner" && v.declared.name) declaredPartners.add(v.declared.name)
    if (v.declared?.kind === "LocalDomains" && !v.valid) localDomainsComplete = false
    if (v.declared?.kind === "Defaults") declaredDefaults++
    const valid = v.valid
    if (!valid) continue
    switch (valid.kind) {
      case "Defaults":
        defaults.push(valid)
        break
      case "LocalDomains":
        localDomains.push(valid)
        break
      case "Partner":
      case "ClosedGroup":
      case "Connector": {
        const what = WHAT[valid.kind]
        const stem = fileStem(valid.file.path)
        if (valid.doc.name !== stem)
          diagnostics.push(
            diagnosticAt(
              valid.file,
              ["name"],
              "NAME-MISMATCH",
              `${what} name "${valid.doc.name}" differs from its file name "${stem}"`,
              `rename the file to ${valid.doc.name}.yaml or set name: ${stem}`,
            ),
          )
        const seen: Map<string, ValidDoc> =
          valid.kind === "Partner" ? partners : valid.kind === "ClosedGroup" ? groups : connectors
        const first = seen.get(valid.doc.name)
        if (first)
          diagnostics.push(
            diagnosticAt(
              valid.file,
              ["name"],
              DUPLICATE[valid.kind],
              `${what} "${valid.doc.name}" is already declared in ${first.file.path}`,
              "merge the two files or rename one",
            ),
          )
        else seen.set(valid.doc.name, valid)
        break
      }
    }
  }

  // A Defaults file with errors of its own has been reported already; do not add a second report.
  if (defaults.length > 1 || declaredDefaults === 0) {
    const extra = defaults[1]
    diagnostics.push(
      extra
        ? diagnosticAt(
            extra.file,
            ["kind"],
            "DEFAULTS-COUNT",
            `a second Defaults document (the first is ${defaults[0]!.file.path})`,
            "keep one Defaults document, in defaults.yaml",
          )
        : {
            file: "defaults.yaml",
            line: 1,
            column: 1,
            severity: "error",
            rule: "DEFAULTS-COUNT",
            message: "no valid Defaults document in the policy directory",
            hint: "add defaults.yaml with kind: Defaults (or fix the errors reported in it)",
          },
    )
  }

  return {
    sources: {
      defaults: defaults.length === 1 ? defaults[0] : undefined,
      partners: [...partners.values()],
      localDomains,
      groups: [...groups.values()],
      connectors: [...connectors.values()],
      declaredPartners,
      localDomainsComplete,
    },
    diagnostics,
  }
}
