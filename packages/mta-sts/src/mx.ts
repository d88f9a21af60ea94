/**
 * MX host matching of RFC 8461 §4.1: case-insensitive, a trailing dot ignored, and a `*.`
 * pattern matching exactly one leftmost label (`*.example.net` matches `mx1.example.net`, not
 * `example.net` nor `a.mx1.example.net`). Pure.
 */
import type { MtaStsPolicy } from "./policy-file"

const normalize = (name: string): string => name.trim().toLowerCase().replace(/\.$/, "")

/**
 * Whether `host` (an MX exchange) is one the policy allows. The mode is the caller's to apply:
 * under `none` nothing is enforced, under `testing` a mismatch is only reported.
 */
export const mxMatches = (policy: Pick<MtaStsPolicy, "mx">, host: string): boolean => {
  const name = normalize(host)
  if (name === "" || name.includes("*")) return false
  return policy.mx.some((raw) => {
    const pattern = normalize(raw)
    if (!pattern.startsWith("*.")) return pattern === name
    const suffix = pattern.slice(1)
    if (!name.endsWith(suffix) || name.length === suffix.length) return false
    return !name.slice(0, -suffix.length).includes(".")
  })
}
