/**
 * The delivery queue's `Deliverer` port bound to the SMTP outbound adapter (`OutboundDelivery`,
 * whose `Destinations` hold per-next-hop concurrency, cached sessions and breakers): turns its
 * report into per-recipient replies and its tagged failure into `DeliveryFailed` (code, retry, status, and a one-line TLS evidence
 * summary for the job log). For a pin mismatch the detail names what the change looks like and
 * the pin that would admit it.
 */
import { Deliverer, DeliveryFailed, type RecipientReply } from "@mailconnect/delivery-queue"
import { type AttemptEvidence, type DeliveryError, OutboundDelivery } from "@mailconnect/smtp-outbound"
import { Effect, Layer } from "effect"

const cn = (subject: string) => /CN=([^,]+)/.exec(subject)?.[1] ?? subject

/** e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384 peer=mx.bank.example verified pin=sha256/…` */
export const tlsSummary = (attempt: AttemptEvidence | undefined): string | undefined => {
  const tls = attempt?.tls
  if (!tls) return attempt ? "plaintext" : undefined
  const verification = tls.verification
  const verdict = !verification
    ? "unverified"
    : verification.ok
      ? "verified"
      : `failed:${verification.failure}`
  return [
    tls.protocol ?? "?",
    tls.cipher,
    ...(tls.peer ? [`peer=${cn(tls.peer.subject)}`, `notAfter=${tls.peer.notAfter}`] : []),
    verdict,
    ...(tls.peer ? [`pin=${tls.peer.spkiPin}`] : []),
    ...(tls.resumed ? ["resumed"] : []),
    ...(tls.clientCertificate ? [`client=${tls.clientCertificate}`] : []),
  ].join(" ")
}

const detailOf = (error: DeliveryError): string => {
  if (error._tag === "CertPinMismatch")
    return `${error.detail}; looks like ${error.diagnosis.kind}; if legitimate add pin ${error.diagnosis.pinToAdd}`
  return error.detail
}

const failed = (error: DeliveryError): DeliveryFailed => {
  const reply = "reply" in error && error.reply ? `${error.reply.code} ${error.reply.text}` : undefined
  const tls = tlsSummary(error.attempts.at(-1))
  return new DeliveryFailed({
    code: error.code,
    retry: error.retry,
    status: error.status,
    server: error.server,
    detail: detailOf(error),
    ...(reply ? { reply } : {}),
    ...(tls ? { tls } : {}),
  })
}

export const DelivererFromOutbound = Layer.effect(
  Deliverer,
  Effect.map(OutboundDelivery, (outbound) => ({
    deliver: (request) =>
      outbound
        .deliver({
          domain: request.route.policy.domain,
          recipients: request.recipients,
          sender: request.sender,
          body: request.body,
          policy: request.route.policy,
          bundleSerial: request.serial,
        })
        .pipe(
          Effect.map((report) => ({
            server: report.server,
            recipients: report.recipients.map(
              (r): RecipientReply =>
                r.status === "delivered"
                  ? {
                      recipient: r.recipient,
                      accepted: true,
                      permanent: false,
                      status: r.reply.enhanced ?? "2.0.0",
                      reply: `${r.reply.code} ${r.reply.text}`,
                    }
                  : {
                      recipient: r.recipient,
                      accepted: false,
                      permanent: r.status === "bounced",
                      status: r.error.status,
                      reply: r.error.reply ? `${r.error.reply.code} ${r.error.reply.text}` : r.error.detail,
                    },
            ),
            ...(report.attempts.length > 0 ? { tls: tlsSummary(report.attempts.at(-1)) ?? "" } : {}),
          })),
          Effect.mapError(failed),
        ),
  })),
)
