/**
 * What the sender asked of TLS for one message (RFC 8689), applied to the planned hops:
 *
 *  - `requireTls` (MAIL FROM … REQUIRETLS, §4.2.1): only hops whose server is authenticated carry
 *    the message — a partner policy with `enforce`/`mtls` (our agreement), DANE with usable TLSA
 *    records (an all-unusable set authenticates nothing), MTA-STS `enforce`. No such hop: the
 *    delivery fails at once (`RequireTlsUnmet`, `no-authenticated-hop`).
 *  - `tlsRequiredNo` (the `TLS-Required: No` header, §5, without REQUIRETLS): the recipient's
 *    published policies (DANE, MTA-STS) are not enforced — those hops are delivered as
 *    opportunistic, their verification still recorded. A partner policy is our agreement, not
 *    the recipient's published policy, and stays as written.
 */
import { isUsableTlsa } from "@mailconnect/x509"
import { Either } from "effect"
import type { HopAuthority, PlannedHop } from "./authority"
import { RequireTlsUnmet } from "./errors"

export interface TlsDemand {
  readonly requireTls?: boolean
  readonly tlsRequiredNo?: boolean
}

/** Whether a hop may carry a REQUIRETLS message: its server is authenticated, not just encrypted. */
export const authenticatesForRequireTls = (authority: HopAuthority): boolean => {
  switch (authority.source) {
    case "partner":
      return authority.tls.mode === "enforce" || authority.tls.mode === "mtls"
    case "dane":
      return (authority.tlsa ?? []).some(isUsableTlsa)
    case "mta-sts":
      return authority.mtaSts?.mode === "enforce"
    case "none":
      return false
  }
}

const opportunistic = (authority: HopAuthority): HopAuthority =>
  authority.source === "dane" || authority.source === "mta-sts"
    ? { ...authority, tls: { ...authority.tls, mode: "opportunistic" } }
    : authority

/** The hops that carry this message, held to what the sender asked; `domain` names the failure. */
export const applyTlsDemand = (
  planned: ReadonlyArray<PlannedHop>,
  demand: TlsDemand,
  domain: string,
): Either.Either<ReadonlyArray<PlannedHop>, RequireTlsUnmet> => {
  if (demand.requireTls) {
    const accepted = planned.filter((p) => authenticatesForRequireTls(p.authority))
    if (accepted.length > 0) return Either.right(accepted)
    return Either.left(
      new RequireTlsUnmet({
        server: domain,
        phase: "dns",
        detail: `REQUIRETLS: no authenticated next hop (${planned.map((p) => `${p.hop.host} ${p.authority.source}`).join(", ") || "none"})`,
        attempts: [],
        form: "no-authenticated-hop",
      }),
    )
  }
  if (demand.tlsRequiredNo)
    return Either.right(planned.map((p) => ({ ...p, authority: opportunistic(p.authority) })))
  return Either.right(planned)
}
