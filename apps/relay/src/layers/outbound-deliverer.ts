/**
 * The delivery queue's `Deliverer` port bound to the SMTP outbound adapter (`OutboundDelivery`,
 * whose `Destinations` hold per-next-hop concurrency, cached sessions and breakers): turns its
 * report into per-recipient replies and its tagged failure into `DeliveryFailed` — code, status, the
 * structured reason (`reasonOf`: a pin diagnosis, the names expected and presented, an open breaker)
 * — each with the last attempt's TLS evidence as a record (`TlsRecord`) for the job data.
 */

import { randomUUID } from "node:crypto"
import { Deliverer, DeliveryFailed, type RecipientReply, type TlsRecord } from "@mailconnect/delivery-queue"
import {
  type AttemptEvidence,
  type DeliveryError,
  OutboundDelivery,
  reasonOf,
} from "@mailconnect/smtp-outbound"
import { TlsReportCounters } from "@mailconnect/tlsrpt"
import { Clock, Effect, Layer, Option } from "effect"
import { type DeliveryOutcome, sessionsOf } from "./tls-sessions"

/** The job's record of an attempt's TLS: `null` for a session without TLS, absent without a session. */
export const tlsRecordOf = (attempt: AttemptEvidence | undefined): TlsRecord | null | undefined => {
  if (!attempt) return undefined
  const tls = attempt.tls
  if (!tls) return null
  const { peer, verification } = tls
  return {
    protocol: tls.protocol,
    cipher: tls.cipher,
    ...(tls.resumed ? { resumed: true } : {}),
    ...(tls.clientCertificate ? { clientCertificate: tls.clientCertificate } : {}),
    ...(peer
      ? {
          peer: {
            subject: peer.subject,
            issuer: peer.issuer,
            subjectAltNames: peer.subjectAltNames,
            notAfter: peer.notAfter,
            spkiPin: peer.spkiPin,
          },
        }
      : {}),
    ...(verification
      ? {
          verification: {
            ok: verification.ok,
            findings: verification.findings,
            ...(verification.failure ? { failure: verification.failure } : {}),
            ...(verification.matchedName ? { matchedName: verification.matchedName } : {}),
            ...(verification.matchedPin ? { matchedPin: verification.matchedPin } : {}),
          },
        }
      : {}),
  }
}

const failed = (error: DeliveryError): DeliveryFailed => {
  const reply = "reply" in error && error.reply ? `${error.reply.code} ${error.reply.text}` : undefined
  const last = error.attempts.at(-1)
  const tls = tlsRecordOf(last)
  const reason = reasonOf(error)
  return new DeliveryFailed({
    code: error.code,
    status: error.status,
    server: error.server,
    detail: error.detail,
    ...(reason ? { reason } : {}),
    ...(last ? { source: last.source } : {}),
    ...(reply ? { reply } : {}),
    ...(tls === undefined ? {} : { tls }),
  })
}

/**
 * With `TlsReportCounters` in context (RELAY_TLSRPT_* set), every delivery's TLS sessions are
 * counted for RFC 8460 reports before the outcome goes back to the worker — best effort: a
 * counters write that fails never fails the delivery. Our own reports' sessions are not counted.
 */
export const DelivererFromOutbound = Layer.effect(
  Deliverer,
  Effect.gen(function* () {
    const outbound = yield* OutboundDelivery
    const counters = Option.getOrUndefined(yield* Effect.serviceOption(TlsReportCounters))
    const count = (outcome: Omit<DeliveryOutcome, "now" | "newId">) =>
      counters === undefined
        ? Effect.void
        : Clock.currentTimeMillis.pipe(
            Effect.map((now) => sessionsOf({ ...outcome, now, newId: randomUUID })),
            Effect.flatMap((sessions) => (sessions.length === 0 ? Effect.void : counters.record(sessions))),
            Effect.ignore,
          )
    return { outbound, count }
  }).pipe(
    Effect.map(({ outbound, count }): Deliverer["Type"] => ({
      deliver: (request) =>
        outbound
          .deliver({
            domain: request.route.policy.domain,
            recipients: request.recipients,
            sender: request.sender,
            body: request.body,
            policy: request.route.policy,
            bundleSerial: request.serial,
            ...(request.requireTls ? { requireTls: true } : {}),
            ...(request.tlsRequiredNo ? { tlsRequiredNo: true } : {}),
          })
          .pipe(
            Effect.tap((report) =>
              request.tlsReport
                ? Effect.void
                : count({
                    domain: request.route.policy.domain,
                    policy: request.route.policy,
                    attempts: report.attempts,
                    reusedLast: report.reusedConnection,
                    error: undefined,
                  }),
            ),
            Effect.tapError((error) =>
              request.tlsReport
                ? Effect.void
                : count({
                    domain: request.route.policy.domain,
                    policy: request.route.policy,
                    attempts: error.attempts,
                    reusedLast: false,
                    error,
                  }),
            ),
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
              ...(report.attempts.length > 0
                ? { tls: tlsRecordOf(report.attempts.at(-1)) ?? null, source: report.attempts.at(-1)!.source }
                : {}),
            })),
            Effect.mapError(failed),
          ),
    })),
  ),
)
