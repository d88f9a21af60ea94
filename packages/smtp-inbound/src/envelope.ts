/**
 * Envelope addresses in the one form mailconnect knows (DESIGN §3): the domain as UTS-46 A-labels
 * in lower case, address literals kept. smtp-server decodes `xn--` labels to Unicode before our
 * handlers see them and lets full-width letters and ideographic full stops through, while the
 * policy holds A-labels: every MAIL FROM and RCPT TO is converted here, once, and the sender
 * checks, the policy lookups and the queued job all see the converted address.
 */
import { normalizeAddress } from "@mailconnect/policy"
import { type Refusal, refusal } from "./replies"

export const normalizeEnvelopeAddress = (
  address: string,
  role: "sender" | "recipient",
): { readonly address: string } | { readonly refusal: Refusal } => {
  const normalized = normalizeAddress(address)
  if (normalized !== undefined) return { address: normalized }
  return {
    refusal: refusal(
      553,
      role === "sender" ? "5.1.7" : "5.1.3",
      `Bad ${role} address syntax: the domain of <${address}> is not a valid host name (IDNA)`,
      "bad-address",
    ),
  }
}
