/**
 * Returning a job's pending recipients to the sender on an operator's word (`queue bounce`,
 * `queue delete --ndr`), as a pure change of the job data: every pending recipient fails with
 * OPERATOR_BOUNCE and the NDR is recorded as *owed*, exactly as an attempt records the reports
 * it decided on. The worker then sends it on the job's next run with its own `settleReports`
 * (the same `buildDsn`, the same deterministic DSN id, the same retry when Redis refuses) and
 * ends the job — so an operator's NDR is built and queued by the one code path that builds
 * every other NDR. The worker uses it too, with MESSAGE_LOST, for a job whose body is gone.
 */
import { shouldReport } from "@mailconnect/dsn"
import { FAILURE_CAUSES } from "@mailconnect/failure-codes"
import type { DeliveryJobData, OwedReport, RecipientResult } from "./job"

type FinalCode = "OPERATOR_BOUNCE" | "MESSAGE_LOST"

export const returnToSender = (
  data: DeliveryJobData,
  reason: string,
  now: number,
  /** MESSAGE_LOST when the worker finds the body gone: the same change, another cause. */
  code: FinalCode = "OPERATOR_BOUNCE",
): DeliveryJobData => {
  if (data.pending.length === 0) return data
  const status = FAILURE_CAUSES[code].status
  const results: ReadonlyArray<RecipientResult> = data.pending.map((recipient) => ({
    recipient,
    outcome: "failed",
    at: now,
    status,
    code,
  }))
  const last = data.lastFailure
  const report: OwedReport = {
    kind: "failure",
    // The DSN's id carries an attempt number: one past the job's last attempt is one no attempt of
    // this job uses (none follows, nothing stays pending), so it never collides with an NDR that
    // an attempt already sent for other recipients of the job.
    attempt: data.attemptCount + 1,
    createdAt: now,
    recipients: data.pending.map((address) => ({
      address,
      action: "failed" as const,
      status,
      code,
      // The operator's words are the diagnostic; the last server reply would read as the cause.
      detail: reason,
      ...(last?.server === undefined ? {} : { remoteMta: last.server }),
      ...(last === undefined ? {} : { lastAttemptAt: last.at }),
    })),
  }
  const reports = !data.isDsn && shouldReport(data.sender) ? [report] : []
  const owed = [...(data.reportsOwed ?? []), ...reports]
  const { nextAttemptAt: _none, reportsOwed: _old, ...rest } = data
  return {
    ...rest,
    pending: [],
    results: [...data.results, ...results],
    ...(owed.length > 0 ? { reportsOwed: owed } : {}),
  }
}
