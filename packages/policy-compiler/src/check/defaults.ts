/** Rules about the Defaults document: the fleet default must itself be acceptable. */
import { parseDuration } from "@mailconnect/policy"
import type { Diagnostic } from "../diagnostic"
import { diagnosticAt } from "../source/validate"
import { checkLimits } from "./limits"
import { retryProblem, secLevelProblem } from "./partner"
import type { DefaultsSource } from "./sources"

export const checkDefaults = ({ doc, file }: DefaultsSource): Array<Diagnostic> => {
  const out: Array<Diagnostic> = []
  if (doc.tls.minVersion === "TLSv1" || doc.tls.minVersion === "TLSv1.1")
    out.push(
      diagnosticAt(
        file,
        ["tls", "minVersion"],
        "TLS-LEGACY-UNACKNOWLEDGED",
        `the fleet default minVersion ${doc.tls.minVersion} is below TLSv1.2 (deprecated by RFC 8996)`,
        "set TLSv1.2; legacy TLS is acknowledged per partner in its agreement, never fleet-wide",
      ),
    )
  const ciphers = doc.tls.ciphers === undefined ? undefined : secLevelProblem(doc.tls.ciphers, undefined)
  if (ciphers)
    out.push(
      diagnosticAt(file, ["tls", "ciphers"], "CIPHERS-SECLEVEL", ciphers.message, ciphers.hint, {
        severity: "warning",
      }),
    )
  const ms = (text: string) => parseDuration(text)!
  const problem = retryProblem({
    schedule: doc.retry.schedule.map(ms),
    every: ms(doc.retry.every),
    warnAfter: ms(doc.retry.warnAfter),
    expireAfter: ms(doc.retry.expireAfter),
  })
  if (problem)
    out.push(
      diagnosticAt(
        file,
        ["retry"],
        "RETRY-TIMELINE-INVALID",
        `default retry timeline: ${problem}`,
        "fix retry so the schedule increases and warnAfter < expireAfter",
      ),
    )
  out.push(...checkLimits(file, doc.limits))
  return out
}
