/** The job and clock the attempt tests start from. */
import type { DeliveryJobData } from "../src"

export const m = 60_000
export const h = 60 * m
export const t0 = Date.UTC(2026, 10, 28, 9)
export const job: DeliveryJobData = {
  v: 1,
  messageId: "m1",
  domain: "bank.example",
  sender: "alice@customer.example",
  recipients: ["a@bank.example", "b@bank.example", "c@bank.example"],
  pending: ["a@bank.example", "b@bank.example", "c@bank.example"],
  queuedAt: t0,
  isDsn: false,
  warned: false,
  attemptCount: 0,
  attempts: [],
  results: [],
}
