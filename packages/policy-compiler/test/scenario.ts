/**
 * The happy-path policy directory the rule tests start from, kept in memory; each test
 * overrides one file or one field and compiles with the pure core at a fixed "now".
 */

import { DEFAULTS_YAML } from "@mailconnect/test-support"
import { type CompileResult, compileSources, formatDiagnostic } from "../src"
import { attachmentsOf, type TestCertificates } from "./pki"

export const NOW = new Date("2026-11-28T12:00:00Z")

export type Files = Record<string, string>

export const baseFiles = (certs: TestCertificates): Files => ({
  "defaults.yaml": DEFAULTS_YAML,
  "local.yaml": `apiVersion: mailconnect/v1
kind: LocalDomains
domains:
  - domain: acme.example
    deliverTo: mailbox.acme.example:25
  - domain: lawfirm.example
    deliverTo: mailbox.lawfirm.example
`,
  "partners/bank.yaml": `apiVersion: mailconnect/v1
kind: Partner
name: bank
agreement:
  reference: AGR-1
  signedOn: "2026-06-15"
  confirmedBy: Customer operations, ticket OPS-1
  confirmedOn: "2026-06-15"
  technicalContacts:
    - name: Bank Ops
      email: ops@bank.example
domains:
  - bank.example
  - "*.bank.example"
route:
  servers:
    - smtp.bank.example:25
tls:
  mode: enforce
  minVersion: TLSv1.2
  verify:
    names: [smtp.bank.example]
    ca: certs/ca.pem
    certificate: certs/leaf.pem
    pins:
      - ${certs.leaf.pin}
      - ${certs.ca.pin}
  review:
    attestedOn: "2026-06-01"
    every: 1y
`,
  "partners/court.yaml": `apiVersion: mailconnect/v1
kind: Partner
name: court
agreement:
  reference: AGR-2
  signedOn: "2026-10-01"
  confirmedBy: Customer operations, ticket OPS-1
  confirmedOn: "2026-10-01"
  technicalContacts:
    - name: Court IT
      email: it@court.example
domains: [court.example]
tls:
  mode: mtls
  clientCertificate: relay-client
  verify:
    names: [mx.court.example]
`,
  "partners/notary.yaml": `apiVersion: mailconnect/v1
kind: Partner
name: notary
agreement:
  reference: AGR-3
  signedOn: "2026-10-08"
  confirmedBy: Customer operations, ticket OPS-1
  confirmedOn: "2026-10-08"
  technicalContacts:
    - name: Notary Postmaster
      email: postmaster@notary.example
domains: [notary.example]
tls:
  mode: mtls
  clientCertificate: relay-client
  verify:
    names: [mx.notary.example]
`,
  "groups/justice.yaml": `apiVersion: mailconnect/v1
kind: ClosedGroup
name: justice
members: [court, notary]
localDomains: [lawfirm.example]
`,
})

/** Applies overrides: a string replaces or adds a file, `null` deletes it. */
export const withFiles = (base: Files, overrides: Record<string, string | null>): Files => {
  const files = { ...base }
  for (const [path, text] of Object.entries(overrides)) {
    if (text === null) delete files[path]
    else files[path] = text
  }
  return files
}

/** Adds text at the end of one existing file. */
export const appendTo = (base: Files, path: string, text: string): Files => {
  const existing = base[path]
  if (existing === undefined) throw new Error(`no file ${path}`)
  return { ...base, [path]: `${existing}${text}` }
}

/** Replaces one exact snippet in one file; fails loudly if the snippet is not there. */
export const edit = (base: Files, path: string, from: string, to: string): Files => {
  const text = base[path]
  if (text === undefined || !text.includes(from)) throw new Error(`${path} has no ${JSON.stringify(from)}`)
  return { ...base, [path]: text.replace(from, to) }
}

export const compile = (
  files: Files,
  certs: TestCertificates,
  options: { readonly strict?: boolean; readonly now?: Date } = {},
): CompileResult =>
  compileSources({
    files: Object.entries(files).map(([path, text]) => ({ path, text })),
    attachments: attachmentsOf(certs),
    now: options.now ?? NOW,
    ...(options.strict === undefined ? {} : { strict: options.strict }),
  })

export const lines = (result: CompileResult): Array<string> => result.diagnostics.map(formatDiagnostic)
